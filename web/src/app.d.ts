declare global {
  namespace App {
    interface Locals {
      /** The user's session token from the hero_session cookie (validated by the API on use). */
      sessionToken?: string;
      /** The admin session token from the hero_admin cookie. */
      adminToken?: string;
      /** This request's id (x-request-id: the caller's when safe, else new), sent on to the API. */
      requestId?: string;
      /** The signed-in user, when the session token is live. */
      user?: { id: string; email: string; displayName: string; emailVerified: boolean };
    }
    interface Error {
      code?: string;
    }
  }
}

export {};
