/**
 * Browser tests: Debian's Chromium (/usr/bin/chromium) driven by playwright-core. One browser
 * per test file (`launchBrowser()` in beforeAll), a new context per test (`newContext()`),
 * screenshots under test/artifacts/ and an axe-core accessibility check.
 *
 * A missing Chromium fails the tests with the command that installs it: it is never a skip.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from './postgres.ts';

export type { Browser, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The flags Debian's Chromium needs here (see shared STACK.md, trap 11). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test', 'artifacts');

/** The two widths every page is checked at: a laptop and a phone. */
export const WIDTHS = [1280, 390] as const;

export function viewportFor(width: number): { width: number; height: number } {
  return { width, height: width >= 1000 ? 800 : 844 };
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `the browser tests need Debian's Chromium at ${CHROMIUM_PATH}, which is missing: ` +
        'install it with `apt-get install -y chromium` (.ci/run does this when it is missing)',
    );
  }
  try {
    return await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  } catch (err) {
    throw new Error(`could not launch ${CHROMIUM_PATH}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export interface ContextOptions {
  /** Default 1280 × 800. */
  viewport?: { width: number; height: number };
  /** The viewer's time zone; default UTC. */
  timezoneId?: string;
  /** Default en-US. */
  locale?: string;
  /**
   * Ignore the page's Content-Security-Policy. Needed to inject axe-core (checkA11y): the app's
   * strict CSP (script-src 'self' 'nonce-…') blocks an injected inline script.
   */
  bypassCSP?: boolean;
  baseURL?: string;
}

export function newContext(browser: Browser, options: ContextOptions = {}): Promise<BrowserContext> {
  return browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    timezoneId: options.timezoneId ?? 'UTC',
    locale: options.locale ?? 'en-US',
    bypassCSP: options.bypassCSP ?? false,
    baseURL: options.baseURL,
  });
}

/** Sets a session cookie for the UI at `baseUrl` (as the sign-in form would have). */
export async function addSessionCookie(
  context: BrowserContext,
  baseUrl: string,
  name: string,
  token: string,
): Promise<void> {
  await context.addCookies([{ name, value: token, url: baseUrl, httpOnly: true, sameSite: 'Lax' }]);
}

/**
 * What went wrong in the page while a test ran: uncaught exceptions, and console errors about
 * the Content-Security-Policy or failed hydration. Assert it is empty at the end.
 */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`${page.url()}: uncaught ${err.name}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (/Content.Security.Policy|hydrat|svelte/i.test(text)) errors.push(`${page.url()}: console: ${text}`);
  });
  return errors;
}

/**
 * Waits until the page's scripts have run (SvelteKit has hydrated): the load event and no
 * network activity for a moment. Form controls work before that too (plain form posts), but
 * client-side behaviour (dialogs, local time zones) needs it.
 */
export async function settled(page: Page): Promise<void> {
  await page.waitForLoadState('load');
  await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {});
}

/** Writes a full-page screenshot to test/artifacts/<name>-<viewport width>.png; answers the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  const file = path.join(ARTIFACTS_DIR, `${name.replace(/[^A-Za-z0-9_.-]+/g, '-')}-${width}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

let axeSource: string | undefined;

function loadAxeSource(): string {
  if (axeSource === undefined) {
    const require = createRequire(import.meta.url);
    axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  return axeSource;
}

export interface A11yViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  targets: string[];
}

/**
 * Runs axe-core on the page (the context must have `bypassCSP: true`) and throws when it finds
 * any violation, whatever its impact (minor and moderate too), listing each with its rule, help
 * and targets. Answers the violations (none, when it returns) so callers can assert on them.
 */
export async function checkA11y(page: Page, label = page.url()): Promise<A11yViolation[]> {
  const present = await page.evaluate(() => typeof (window as { axe?: unknown }).axe === 'object');
  if (!present) {
    try {
      await page.addScriptTag({ content: loadAxeSource() });
    } catch (err) {
      throw new Error(
        `could not inject axe-core into ${label} (is the context made with bypassCSP: true?): ${
          err instanceof Error ? err.message : String(err)
        }`,
      );
    }
  }
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: any }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes.map((n: any) => (Array.isArray(n.target) ? n.target.join(' ') : String(n.target))),
    }));
  });
  const bad = violations as A11yViolation[];
  if (bad.length > 0) {
    const width = page.viewportSize()?.width;
    throw new Error(
      `accessibility: ${bad.length} violation(s) on ${label} at ${width} px:\n${bad
        .map(
          (v) =>
            `- ${v.id} (${v.impact}): ${v.help}\n    ${v.helpUrl}\n    targets: ${v.targets.slice(0, 8).join(' | ')}${
              v.targets.length > 8 ? ` (+${v.targets.length - 8} more)` : ''
            }`,
        )
        .join('\n')}`,
    );
  }
  return violations as A11yViolation[];
}
