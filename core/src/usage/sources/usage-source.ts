/**
 * Where usage batches come from: the billing repository, read through a forge's REST API
 * (ForgeSource) or with the git CLI (GitSource). Every read of a tick is pinned to the branch
 * head the tick started from, so a push in between cannot mix two states.
 */

export interface UsageNode {
  /** The directory name under `nodes/`. */
  name: string;
  /** The git tree sha of `nodes/<name>`: it changes exactly when a file under it changes. */
  treeSha: string;
}

/** What is directly under `nodes/` at a commit. */
export interface NodeListing {
  /** The directories. */
  nodes: UsageNode[];
  /** Paths of everything else there (files, submodules): nothing is read from them. */
  others: string[];
}

export interface UsageFileRef {
  /** Repository path, `nodes/<node>/usage_<YYYY-MM-DD-HH>.otoml`. */
  path: string;
  blobSha: string;
  size: number;
}

export interface UsageFileContent {
  file: UsageFileRef;
  content: Buffer;
}

export interface PushResult {
  commitSha: string;
  /** true when the file existed and was replaced. */
  updated: boolean;
}

export interface UsageSource {
  /** For logs and summaries; never a secret. */
  readonly description: string;
  /** The branch head, or null when the repository or branch is empty. */
  head(signal?: AbortSignal): Promise<string | null>;
  /** The directories under `nodes/` at `commit`, and what else is there. */
  listNodes(commit: string, signal?: AbortSignal): Promise<NodeListing>;
  /** The latest commit at or before `commit` that touched `nodes/<node>`. */
  nodeCommit(node: UsageNode, commit: string, signal?: AbortSignal): Promise<string>;
  /** Every file under `nodes/<node>/` at `commit` (any name; the caller filters). */
  listFiles(node: UsageNode, commit: string, signal?: AbortSignal): Promise<UsageFileRef[]>;
  /** The files' bytes at `commit`, yielded in the order given. */
  readFiles(files: UsageFileRef[], commit: string, signal?: AbortSignal): AsyncIterable<UsageFileContent>;
  /**
   * Writes one file on the branch as one commit (`hero-admin usage push`): created, or
   * replaced when it exists.
   */
  putFile(path: string, content: Buffer, message: string, signal?: AbortSignal): Promise<PushResult>;
  /**
   * A cheap reachability check for readiness probes (one request, no retries, bounded by
   * `signal`): resolves when the repository can be read, throws with the reason otherwise.
   */
  check?(signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

/** A source failure worth retrying later (network, 5xx, 429) or not (401, 404, bad config). */
export class UsageSourceError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'UsageSourceError';
  }
}

/** `https://user:secret@host/x` → `https://user:***@host/x`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]+):[^@/]+@/i, '$1:***@');
}
