/**
 * `npm start` end to end: embedded PostgreSQL under a fresh DATA_DIR, migrations, api with the
 * pool provisioner and the example pool loaded on the first start, the generated admin secret,
 * the local billing repository and the aggregate worker, the web UI on WEB_PORT, the pool
 * refreshed with `hero-admin` and from the admin UI in a browser, clean shutdown on SIGTERM,
 * persistence across runs, "a child died: everything stops, exit 1", and a taken port reported
 * before anything starts.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellWord } from '../scripts/lib/billing-repo.ts';
import { type Browser, collectPageErrors, launchBrowser, newContext } from './support/browser.ts';
import { runCliAsShown } from './support/cli.ts';
import { freePort, REPO_ROOT, reachableDataRoot } from './support/postgres.ts';
import { type SpawnedProcess, spawnTs } from './support/process.ts';

const READY_TIMEOUT_MS = 90_000;
const EXAMPLE_POOL_IDS = ['vm-eu-001', 'vm-eu-002', 'vm-eu-003', 'vm-us-001'];
const STOP_WITHIN_MS = 15_000;

/** Pids whose command line mentions `needle` (here: the postmaster, `postgres -D <dir>`). */
function pidsWithCmdline(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Direct children of `pid` whose command line mentions `needle`. */
function childPids(pid: number, needle: string): number[] {
  return pidsWithCmdline(needle).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === pid;
    } catch {
      return false;
    }
  });
}

async function graphql(
  apiPort: number,
  secret: string,
  query: string,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-secret': secret },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: await res.json() };
}

function poolIds(apiPort: number, secret: string): Promise<{ status: number; body: any }> {
  return graphql(apiPort, secret, '{ pool { id } }');
}

/** aggregateNow; the aggregate worker's own first tick may hold the run lock for a moment. */
async function aggregateNow(apiPort: number, secret: string): Promise<{ status: number; body: any }> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const res = await graphql(apiPort, secret, 'mutation { aggregateNow { nodesSeen recordsApplied } }');
    const busy = res.body.errors?.[0]?.extensions?.code === 'ALREADY_RUNNING';
    if (!busy || performance.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('npm start (scripts/start.ts)', () => {
  // Under the repository: the postgres user must be able to reach it (/root may be 700).
  const dataDir = path.join(reachableDataRoot(), `test-start-${randomBytes(4).toString('hex')}`);
  const pgDir = path.join(dataDir, 'pg');
  const billingDir = path.join(dataDir, 'billing.git');
  let apiPort: number;
  let pgPort: number;
  let webPort: number;
  const started: SpawnedProcess[] = [];

  const start = (extra: Record<string, string> = {}, options: { ownGroup?: boolean } = {}) => {
    const proc = spawnTs(
      'scripts/start.ts',
      [],
      {
        DATA_DIR: dataDir,
        API_PORT: String(apiPort),
        PG_PORT: String(pgPort),
        WEB_PORT: String(webPort),
        LOG_LEVEL: 'info',
        // Empty counts as unset: the local billing repository, whatever this shell has configured.
        USAGE_SOURCE: '',
        BILLING_GIT_URL: '',
        FORGE_URL: '',
        ...extra,
      },
      options,
    );
    started.push(proc);
    return proc;
  };
  /** The banner, through its last line (a pipe may deliver it in pieces). */
  const waitForBanner = async (proc: SpawnedProcess) => {
    await proc.waitForLine(new RegExp(`GraphQL\\s+http://localhost:${apiPort}/graphql`), READY_TIMEOUT_MS);
    await proc.waitForLine(/Ctrl-C stops everything\./, 10_000);
  };

  beforeAll(async () => {
    apiPort = await freePort();
    pgPort = await freePort();
    while (pgPort === apiPort) pgPort = await freePort();
    webPort = await freePort();
    while (webPort === apiPort || webPort === pgPort) webPort = await freePort();
  });

  afterAll(async () => {
    for (const proc of started) await proc.stop(5_000);
    // Whatever a failed test left behind (processes these tests started).
    for (const pid of pidsWithCmdline(pgDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('starts cold: embedded PostgreSQL, the example pool, generated admin secret; SIGTERM stops everything, exit 0', async () => {
    const t0 = performance.now();
    const proc = start();
    await waitForBanner(proc);
    const coldMs = performance.now() - t0;

    const secretFile = path.join(dataDir, 'admin-secret');
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fs.stat(secretFile)).mode & 0o777).toBe(0o600);
    expect(proc.lines.some((l) => l.includes('initialising a new PostgreSQL cluster'))).toBe(true);
    // Printed once, in the banner, never inside a JSON log line.
    expect(
      proc.lines.filter((l) => l.includes(`admin secret (new, kept in`) && l.includes(secret)),
    ).toHaveLength(1);
    expect(proc.lines.filter((l) => l.includes('{"level"') && l.includes(secret))).toEqual([]);
    expect(pidsWithCmdline(pgDir)).toHaveLength(1);

    // The web UI: the first line of the banner, built when stale, and answering.
    const readyAt = proc.lines.findIndex((l) => /^\[start\]\s+ready in /.test(l));
    expect(readyAt).toBeGreaterThan(-1);
    expect(proc.lines[readyAt + 1]).toMatch(
      new RegExp(
        `^\\[start\\]\\s+ {2}web UI {4}http://localhost:${webPort}/ {2}\\(admin: http://localhost:${webPort}/admin\\)$`,
      ),
    );
    const home = await fetch(`http://localhost:${webPort}/`, { redirect: 'manual' });
    await home.body?.cancel();
    // The dashboard sends a visitor without a session to /signin (or shows the page).
    expect([200, 302, 303]).toContain(home.status);
    if (home.status !== 200) expect(home.headers.get('location')).toMatch(/\/signin/);
    const followed = await fetch(`http://localhost:${webPort}/`);
    expect(followed.status).toBe(200);
    expect(await followed.text()).toMatch(/<html/i);
    expect((await fetch(`http://127.0.0.1:${webPort}/healthz`)).status).toBe(200);
    // The web process never gets the admin secret or the database URL.
    const [webPid] = childPids(proc.child.pid ?? -1, 'web/server/main.ts');
    expect(webPid).toBeGreaterThan(0);
    const webEnv = readFileSync(`/proc/${webPid}/environ`, 'utf8').split('\0');
    expect(webEnv).toContain(`HERO_API_URL=http://127.0.0.1:${apiPort}`);
    expect(webEnv.some((e) => e.startsWith('ADMIN_SECRET=') || e.startsWith('DATABASE_URL='))).toBe(false);

    // No SMTP_URL: emails become .eml files under DATA_DIR/mail, as the banner says.
    const mailDir = path.join(dataDir, 'mail');
    expect(proc.lines.some((l) => /^\[start\]\s+email\s+written to /.test(l) && l.includes('.eml'))).toBe(
      true,
    );
    const resetEmail = `start-${randomBytes(4).toString('hex')}@example.org`;
    const signedUp = await graphql(
      apiPort,
      secret,
      `mutation { signUp(input: { email: "${resetEmail}", displayName: "S", password: "start test password" }) { __typename } }`,
    );
    expect(signedUp.body.data.signUp.__typename).toBe('SignUpSuccess');
    await graphql(
      apiPort,
      secret,
      `mutation { requestPasswordReset(email: "${resetEmail}") { __typename } }`,
    );
    await expect
      .poll(
        () => (existsSync(mailDir) ? readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : []).length,
        {
          timeout: 10_000,
        },
      )
      .toBe(1);
    const eml = await simpleParser(readFileSync(path.join(mailDir, readdirSync(mailDir)[0] as string)));
    expect(eml.to && !Array.isArray(eml.to) ? eml.to.text : eml.to).toBe(resetEmail);
    expect(eml.text).toContain(`http://localhost:${webPort}/reset?token=hpr_`);
    expect(
      proc.lines.some(
        (l) => l.includes('mail written to') && l.includes(`http://localhost:${webPort}/reset?token=hpr_`),
      ),
    ).toBe(true);

    // The billing repository: created once, bare, printed with the hint to push usage.
    expect(proc.lines.filter((l) => l.includes('created an empty billing repository'))).toHaveLength(1);
    const git = (...args: string[]) =>
      execFileSync('git', ['--git-dir', billingDir, ...args], { encoding: 'utf8' }).trim();
    expect(git('rev-parse', '--is-bare-repository')).toBe('true');
    expect(git('symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(proc.lines.some((l) => /\bbilling\s/.test(l) && l.includes(billingDir))).toBe(true);
    expect(
      proc.lines.some(
        (l) =>
          l.includes(`BILLING_GIT_URL=${shellWord(billingDir)} npm run admin -- usage push --node <node>`) &&
          l.includes('--file usage_<YYYY-MM-DD-HH>.otoml'),
      ),
    ).toBe(true);
    expect(proc.lines.some((l) => /^\[start\]\s+workers\s+.*\baggregate\b/.test(l))).toBe(true);
    // The aggregate worker runs, behind its tag, on that repository.
    await proc.waitForLine(/^\[aggregate\]\s.*aggregate worker started/, 30_000);
    const summary = await aggregateNow(apiPort, secret);
    expect(summary.body.errors).toBeUndefined();
    expect(summary.status).toBe(200);
    expect(summary.body.data.aggregateNow).toEqual({ nodesSeen: 0, recordsApplied: 0 });

    // The pool provisioner, with examples/pool.json loaded into the empty pool.
    expect(
      proc.lines.filter((l) => l.includes('loaded 4 VMs from examples/pool.json into the empty pool')),
    ).toHaveLength(1);
    expect(
      proc.lines.some((l) => /^\[start\]\s+pool\s+pool provisioner, refreshed from Admin → Pool/.test(l)),
    ).toBe(true);
    const ok = await poolIds(apiPort, secret);
    expect(ok.status).toBe(200);
    expect(ok.body.data.pool.map((vm: { id: string }) => vm.id)).toEqual(EXAMPLE_POOL_IDS);
    const provisioner = await graphql(apiPort, secret, '{ provisioner { name isDemo free } }');
    expect(provisioner.body.data.provisioner).toEqual({ name: 'pool', isDemo: false, free: 3 });

    const wrong = await poolIds(apiPort, `${secret}-wrong`);
    expect(wrong.status).toBe(403);
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const t1 = performance.now();
    const code = await proc.stop(STOP_WITHIN_MS);
    const stopMs = performance.now() - t1;
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(STOP_WITHIN_MS);
    expect(pidsWithCmdline(pgDir)).toEqual([]);
    expect(existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
    console.log(
      `npm start, cold data dir: ready after ${(coldMs / 1000).toFixed(1)} s, stopped in ${stopMs.toFixed(0)} ms`,
    );
  }, 150_000);

  it('the pool is refreshed with hero-admin and from the admin UI, as the banner says; Ctrl-C drains every child, exit 0', async () => {
    const secret = readFileSync(path.join(dataDir, 'admin-secret'), 'utf8').trim();
    // In a process group of its own, as a terminal runs it, so Ctrl-C can be sent as a terminal does.
    const proc = start({}, { ownGroup: true });
    await waitForBanner(proc);
    // Warm: the secret is not shown again, the banner says where it is and how the CLI gets it.
    expect(proc.lines.filter((l) => l.includes(secret))).toEqual([]);
    const cliLine = proc.lines.find((l) => l.includes('npx hero-admin pool list')) ?? '';
    const api = Object.fromEntries(
      [...cliLine.matchAll(/\b([A-Z_]+)=(\S+)/g)].map(([, name, value]) => [name, value]),
    );
    expect(api).toEqual({
      HERO_API_URL: `http://127.0.0.1:${apiPort}`,
      ADMIN_SECRET_FILE: path.relative(REPO_ROOT, path.join(dataDir, 'admin-secret')),
    });
    expect(proc.lines.some((l) => l.includes('into the empty pool'))).toBe(false);

    // hero-admin as the banner and the README show it: a smaller pool, then a bad manifest.
    const small = path.join(dataDir, 'small-pool.json');
    await fs.writeFile(
      small,
      JSON.stringify({
        pool: [{ id: 'vm-eu-001', cockpit_url: 'https://c.test/1', status: 'Available' }, { id: 'vm-new-1' }],
      }),
    );
    const refreshed = await runCliAsShown('npx', api, ['pool', 'refresh', '--file', small, '--json']);
    expect(refreshed.stderr).toBe('');
    expect(refreshed.code).toBe(0);
    expect(JSON.parse(refreshed.stdout)).toEqual({
      prevPoolSize: 4,
      poolSize: 2,
      added: ['vm-new-1'],
      updated: ['vm-eu-001'],
      retired: ['vm-eu-002', 'vm-eu-003', 'vm-us-001'],
    });
    const bad = path.join(dataDir, 'bad-pool.json');
    await fs.writeFile(bad, JSON.stringify([{ id: 'x', status: 'Gone' }]));
    const refused = await runCliAsShown('npx', api, ['pool', 'refresh', '--file', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/was refused; the pool is unchanged/);
    expect(refused.stderr).toMatch(/\[0\]\.status: must be one of AVAILABLE/);

    // The admin UI: sign in with the secret, upload examples/pool.json, see the sizes.
    const browser: Browser = await launchBrowser();
    try {
      const context = await newContext(browser, { baseURL: `http://localhost:${webPort}` });
      const page = await context.newPage();
      const pageErrors = collectPageErrors(page);
      await page.goto('/admin/login');
      await page.getByText('Sign in with the admin secret (break-glass)').click();
      await page.getByLabel('Admin secret').fill(secret);
      await page.getByRole('button', { name: 'Sign in with the secret' }).click();
      await page.waitForURL((url) => url.pathname === '/admin', { timeout: 15_000 });
      await page.goto('/admin/pool');
      await page
        .getByLabel('Or upload a manifest file')
        .setInputFiles(path.join(REPO_ROOT, 'examples/pool.json'));
      await page.getByRole('button', { name: 'Refresh pool' }).click();
      await page.getByTestId('refresh-changes').waitFor({ timeout: 15_000 });
      expect(await page.getByTestId('prev-pool-size').textContent()).toBe('2');
      expect(await page.getByTestId('pool-size').textContent()).toBe('4');
      expect((await page.getByTestId('refresh-retired').textContent())?.trim()).toBe('vm-new-1');

      // A bad manifest: its problems, not a 503.
      await page.getByLabel('Or upload a manifest file').setInputFiles(bad);
      await page.getByRole('button', { name: 'Refresh pool' }).click();
      const alert = page.locator('[role="alert"]').filter({ has: page.locator('li') });
      await alert.first().waitFor({ timeout: 15_000 });
      expect(await alert.first().textContent()).toMatch(/\[0\]\.status/);
      expect(await alert.first().textContent()).not.toMatch(/provisioner/i);
      expect(pageErrors).toEqual([]);
      await context.close();
    } finally {
      await browser.close();
    }
    const after = await poolIds(apiPort, secret);
    expect(after.body.data.pool.map((vm: { id: string }) => vm.id)).toEqual(
      [...EXAMPLE_POOL_IDS, 'vm-new-1'].sort(),
    );

    // Ctrl-C: the terminal sends SIGINT to the whole foreground process group. Each child gets
    // one stop signal (from the supervisor) and drains; none sees a second one.
    const pid = proc.child.pid;
    if (pid === undefined) throw new Error('no pid');
    process.kill(-pid, 'SIGINT');
    const code = await Promise.race([
      proc.exited,
      new Promise((r) => setTimeout(() => r('timeout'), STOP_WITHIN_MS)),
    ]);
    expect(code).toBe(0);
    expect(proc.lines.filter((l) => l.includes('second stop signal'))).toEqual([]);
    // The children's pino lines are relayed pretty (START_LOG_FORMAT's default), not as JSON.
    expect(proc.lines.filter((l) => /^\[[a-z-]+\]\s+\{"level":/.test(l))).toEqual([]);
    for (const child of ['api', 'outbox', 'auto-release', 'aggregate', 'reconcile', 'web']) {
      // The workers' last line names their job ("outbox worker stopped").
      const stopped = proc.lines.some(
        (l) => l.startsWith(`[${child}]`) && /\bINFO: (\S+ worker )?stopped\b/.test(l),
      );
      expect({ child, stopped }).toEqual({ child, stopped: true });
    }
  }, 150_000);

  it('starts warm on the same data dir (same secret, same data); a child that dies stops everything, exit 1', async () => {
    const secret = readFileSync(path.join(dataDir, 'admin-secret'), 'utf8').trim();
    const t0 = performance.now();
    const proc = start();
    await waitForBanner(proc);
    const warmMs = performance.now() - t0;
    expect(proc.lines.some((l) => l.includes('initialising a new PostgreSQL cluster'))).toBe(false);
    expect(proc.lines.some((l) => l.includes('database schema up to date'))).toBe(true);
    expect(readFileSync(path.join(dataDir, 'admin-secret'), 'utf8').trim()).toBe(secret);
    expect(proc.lines.some((l) => l.includes('created an empty billing repository'))).toBe(false);
    expect(proc.lines.some((l) => /\bbilling\s/.test(l) && l.includes(billingDir))).toBe(true);
    // The pool as the last refresh left it: a restart does not load the example again.
    const ok = await graphql(apiPort, secret, '{ pool(status: AVAILABLE) { id } }');
    expect(ok.body.data.pool.map((vm: { id: string }) => vm.id)).toEqual([
      'vm-eu-001',
      'vm-eu-002',
      'vm-us-001',
    ]);
    expect(proc.lines.some((l) => l.includes('into the empty pool'))).toBe(false);

    const pid = proc.child.pid;
    if (pid === undefined) throw new Error('no pid');
    const [apiPid] = childPids(pid, 'api/src/main.ts');
    expect(apiPid).toBeGreaterThan(0);
    process.kill(apiPid, 'SIGKILL');
    const code = await Promise.race([
      proc.exited,
      new Promise((r) => setTimeout(() => r('timeout'), STOP_WITHIN_MS)),
    ]);
    expect(code).toBe(1);
    expect(proc.lines.some((l) => /api exited unexpectedly \(signal SIGKILL\)/.test(l))).toBe(true);
    expect(pidsWithCmdline(pgDir)).toEqual([]);
    console.log(`npm start, warm data dir: ready after ${(warmMs / 1000).toFixed(1)} s`);
  }, 150_000);

  it('reports a taken WEB_PORT before starting anything, exit 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(webPort, '127.0.0.1', resolve));
    try {
      const proc = start();
      const code = await proc.exited;
      expect(code).toBe(1);
      const out = proc.lines.join('\n');
      expect(out).toContain(`port ${webPort} (WEB_PORT) is already in use`);
      expect(out).toContain('set WEB_PORT to a free port');
      expect(out).not.toContain('PostgreSQL');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);

  it('refuses bad configuration with one line per problem, exit 1', async () => {
    const proc = start({ API_PORT: 'abc', PG_PORT: '70000', LOG_LEVEL: 'loud', WEB_PORT: 'x' });
    const code = await proc.exited;
    expect(code).toBe(1);
    const out = proc.lines.join('\n');
    expect(out).toContain('start: invalid configuration');
    expect(out).toMatch(/- API_PORT: /);
    expect(out).toMatch(/- PG_PORT: /);
    expect(out).toMatch(/- LOG_LEVEL: /);
    expect(out).toMatch(/- WEB_PORT: /);
    expect(out).not.toMatch(/\n\s+at /);
  }, 60_000);
});
