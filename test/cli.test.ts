import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tableRows } from '@hero/cli/testing';
import { AUTO_RELEASE_JOB } from '@hero/core/allocation/auto-release';
import { JOB_LOCK_NAMESPACE } from '@hero/core/jobs/run-with-job-lock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiProcess, startApi } from './support/api.ts';
import { runCliAsShown, runCliInProcess } from './support/cli.ts';
import { createTestDatabase, type TestDatabase } from './support/db.ts';
import { childEnv } from './support/env.ts';
import { allocate, createUser, poolOf } from './support/factories.ts';
import { graphql } from './support/graphql.ts';
import { REPO_ROOT } from './support/postgres.ts';
import { freePort } from './support/process.ts';

/**
 * The `hero-admin` CLI as a person runs it: a child process (cli/src/main.ts under tsx) talking
 * over HTTP to a real api process on a database of its own. The tests run in order and share
 * the api: the pool that `pool refresh` loads first serves the allocations made later.
 */

let db: TestDatabase;
let api: ApiProcess;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ databaseUrl: db.url, env: { VM_POOL_JSON: '[]' } });
  dir = await mkdtemp(path.join(os.tmpdir(), 'hero-cli-test-'));
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `hero-admin <args>` against the test api (override HERO_API_URL / ADMIN_SECRET in env). */
const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCliInProcess(api, args, env);

async function writeJson(name: string, value: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** allocateVm as the user; throws unless it succeeded. */
async function allocated(token: string) {
  const result = await allocate(api, token);
  if (!('allocation' in result)) throw new Error(`allocateVm failed: ${JSON.stringify(result)}`);
  return result.allocation;
}

const WRONG_SECRET = 'not-the-admin-secret-0123456789';

/** The CLI's variables for the test api. */
const asAdmin = () => ({ HERO_API_URL: api.url, ADMIN_SECRET: api.adminSecret });

describe('hero-admin pool', () => {
  const manifest = {
    pool: [
      { id: 'cli-1', name: 'CLI one', host: '10.1.0.1', cockpitUrl: 'https://cockpit.test/cli-1' },
      { id: 'cli-2', name: 'CLI two', host: '10.1.0.2', status: 'MAINTENANCE' },
      ...poolOf(4, 'cv'),
    ],
  };

  it('pool refresh --file reconciles the pool and prints what changed', async () => {
    const file = await writeJson('pool.json', manifest);
    const res = await cli(['pool', 'refresh', '--file', file]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^prevPoolSize\s+0$/m);
    expect(res.stdout).toMatch(/^poolSize\s+6$/m);
    expect(res.stdout).toMatch(/^added\s+cli-1, cli-2, cv-001, cv-002, cv-003, cv-004$/m);
    expect(res.stdout).toMatch(/^retired\s+-$/m);

    const again = await cli(['pool', 'refresh', '--file', file, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      prevPoolSize: 6,
      poolSize: 6,
      added: [],
      updated: [],
      retired: [],
    });
  });

  it('pool list prints an aligned table, and JSON with --json', async () => {
    const res = await cli(['pool', 'list']);
    expect(res.code).toBe(0);
    const rows = tableRows(res.stdout);
    expect(rows[0]).toEqual(['ID', 'NAME', 'STATUS', 'ALLOCATED', 'HOST', 'COCKPIT URL']);
    expect(rows).toHaveLength(7);
    expect(rows[1]).toEqual([
      'cli-1',
      'CLI one',
      'AVAILABLE',
      'no',
      '10.1.0.1',
      'https://cockpit.test/cli-1',
    ]);
    expect(rows[2]).toEqual(['cli-2', 'CLI two', 'MAINTENANCE', 'no', '10.1.0.2', '-']);
    // aligned: every row's STATUS column starts where the header's does
    const lines = res.stdout.trimEnd().split('\n');
    const statusAt = lines[0].indexOf('STATUS');
    for (const line of lines.slice(1)) expect(line.slice(statusAt)).toMatch(/^(AVAILABLE|MAINTENANCE) /);

    const json = await cli(['pool', 'list', '--json']);
    expect(json.code).toBe(0);
    const pool = JSON.parse(json.stdout) as { id: string; status: string; allocated: boolean }[];
    expect(pool.map((vm) => vm.id)).toEqual(['cli-1', 'cli-2', 'cv-001', 'cv-002', 'cv-003', 'cv-004']);
    expect(pool[0]).toMatchObject({ id: 'cli-1', status: 'AVAILABLE', allocated: false, host: '10.1.0.1' });

    const maintenance = await cli(['pool', 'list', '--status', 'MAINTENANCE', '--json']);
    expect(JSON.parse(maintenance.stdout).map((vm: { id: string }) => vm.id)).toEqual(['cli-2']);
  });

  it('as the README shows it (npx hero-admin, npm run admin --): its own output only, nothing on stderr', async () => {
    const npx = await runCliAsShown('npx', asAdmin(), ['pool', 'list']);
    expect(npx.stderr).toBe('');
    expect(npx.code).toBe(0);
    expect(tableRows(npx.stdout)[0]).toEqual(['ID', 'NAME', 'STATUS', 'ALLOCATED', 'HOST', 'COCKPIT URL']);

    const run = await runCliAsShown('npm run', asAdmin(), ['pool', 'list', '--status', 'MAINTENANCE']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^cli-2\s+CLI two\s+MAINTENANCE/m);

    // A failed command still says why, and only that.
    const failed = await runCliAsShown('npx', asAdmin(), ['pool', 'list', '--status', 'BROKEN']);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toMatch(/^hero-admin: pool list: --status must be one of/);
    expect(failed.stderr).not.toMatch(/npm (warn|WARN)/);
  });

  it('an invalid manifest exits 1, lists every problem on stderr and leaves the pool unchanged', async () => {
    const file = await writeJson('bad-pool.json', [
      { id: 'bad-1' },
      { id: 'bad-1' },
      { id: 'bad-2', cockpitUrl: 'javascript:alert(1)' },
      { id: 'bad-3', status: 'BROKEN' },
    ]);
    const res = await cli(['pool', 'refresh', '--file', file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^hero-admin: the pool manifest .*bad-pool\.json was refused; the pool is unchanged/,
    );
    expect(lines[0]).toContain('(3 problems)');
    expect(lines.slice(1).map((l) => l.trim().split(':')[0])).toEqual([
      '[1].id',
      '[2].cockpitUrl',
      '[3].status',
    ]);

    const pool = JSON.parse((await cli(['pool', 'list', '--json'])).stdout) as { id: string }[];
    expect(pool.map((vm) => vm.id)).not.toContain('bad-1');
    expect(pool).toHaveLength(6);
  });

  it('a file that is missing or not JSON exits 1 with the reason', async () => {
    const missing = await cli(['pool', 'refresh', '--file', path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^hero-admin: cannot read .*nope\.json: ENOENT\n$/);
    const notJson = await cli(['pool', 'refresh', '--file', await writeJson('x.json', '{ pool: [')]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^hero-admin: .*x\.json is not valid JSON: /);
  });
});

describe('hero-admin users create', () => {
  it('prints the user id and a token, shown once, that works as a bearer token', async () => {
    const res = await cli(['users', 'create', '--email', 'grace@example.org']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const id = /^id\s+(\S+)$/m.exec(res.stdout)?.[1];
    const token = /^token\s+(\S+)$/m.exec(res.stdout)?.[1];
    expect(res.stdout).toMatch(/^name\s+grace$/m);
    expect(res.stdout).toMatch(/shown only once/);
    expect(res.stdout).toMatch(/^invitation\s+http:\/\/\S+\/reset\?token=hpi_\S+&invite=1$/m);
    expect(id).toBeTruthy();
    expect(token).toBeTruthy();
    const me = await api.asUser(token!, graphql('{ me { id email displayName } }'));
    expect(me.data.me).toEqual({ id, email: 'grace@example.org', displayName: 'grace' });

    const json = await cli([
      'users',
      'create',
      '--email',
      'ada@example.org',
      '--name',
      'Ada Lovelace',
      '--json',
    ]);
    expect(json.code).toBe(0);
    const created = JSON.parse(json.stdout);
    expect(created.user).toMatchObject({ email: 'ada@example.org', displayName: 'Ada Lovelace' });
    expect((await api.asUser(created.token, graphql('{ me { id } }'))).data.me.id).toBe(created.user.id);
  });

  it('users invite prints a new link; an unknown user exits 1 with NOT_FOUND', async () => {
    const created = JSON.parse(
      (await cli(['users', 'create', '--email', 'hopper@example.org', '--json'])).stdout,
    );
    expect(created.invitationUrl).toMatch(/token=hpi_/);
    const res = await cli(['users', 'invite', '--user', created.user.id]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const link = /^invitation\s+(\S+)$/m.exec(res.stdout)?.[1];
    expect(link).toMatch(/token=hpi_/);
    expect(link).not.toBe(created.invitationUrl);
    const unknown = await cli(['users', 'invite', '--user', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^hero-admin: the invitation was not sent: NOT_FOUND: /);
  });

  it('an email the API refuses exits 1 with its problems', async () => {
    const res = await cli(['users', 'create', '--email', 'not-an-email']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^hero-admin: the user was not created \(1 problem\):\n {2}email: /);
  });
});

describe('hero-admin users suspend, unsuspend, delete', () => {
  it("suspends (the user's token answers 401), unsuspends, then deletes with the email confirmed", async () => {
    const created = JSON.parse(
      (await cli(['users', 'create', '--email', 'lovelace@example.org', '--json'])).stdout,
    );
    const id = created.user.id as string;
    const me = () => api.asUser(created.token, graphql('{ me { id } }'));

    // By email, in any case: the CLI looks the user up, the operator never pastes the id.
    const suspended = await cli([
      'users',
      'suspend',
      '--user',
      'LoveLace@Example.ORG',
      '--reason',
      'chargeback',
      '--release-vms',
    ]);
    expect(suspended.stderr).toBe('');
    expect(suspended.code).toBe(0);
    expect(suspended.stdout).toMatch(new RegExp(`^id\\s+${id}$`, 'm'));
    expect(suspended.stdout).toMatch(/^status\s+SUSPENDED$/m);
    expect(suspended.stdout).toMatch(/^reason\s+chargeback$/m);
    expect((await me()).status).toBe(401);

    // The accounts under review: listed by their status, not among the active ones.
    const underReview = await cli(['users', 'list', '--status', 'suspended', '--json']);
    expect(underReview.code).toBe(0);
    const reviewed = JSON.parse(underReview.stdout) as { id: string; status: string }[];
    expect(reviewed.map((u) => u.id)).toContain(id);
    expect(new Set(reviewed.map((u) => u.status))).toEqual(new Set(['SUSPENDED']));
    const active = JSON.parse((await cli(['users', 'list', '--status', 'active', '--json'])).stdout);
    expect((active as { id: string }[]).map((u) => u.id)).not.toContain(id);

    // The audit log names the target user by id and email, and filters by a user given by email.
    const audit = await cli(['audit', 'list', '--user', 'lovelace@example.org', '--action', 'suspendUser']);
    expect(audit.stderr).toBe('');
    const auditRows = tableRows(audit.stdout);
    expect(auditRows).toHaveLength(2);
    expect(auditRows[1][3]).toBe('suspendUser');
    expect(auditRows[1][4]).toBe(`user:${id} (lovelace@example.org)`);
    const auditJson = JSON.parse((await cli(['audit', 'list', '--user', id, '--json'])).stdout);
    expect(auditJson.length).toBeGreaterThanOrEqual(1);
    for (const entry of auditJson)
      expect(entry).toMatchObject({ targetId: id, targetUser: { email: 'lovelace@example.org' } });

    const back = await cli(['users', 'unsuspend', '--user', 'lovelace@example.org']);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/^status\s+ACTIVE$/m);
    expect((await me()).data?.me).toEqual({ id });

    const mistyped = await cli(['users', 'delete', '--user', id, '--confirm-email', 'someone@example.org']);
    expect(mistyped.code).toBe(1);
    expect(mistyped.stderr).toMatch(
      /^hero-admin: the user was not deleted: BAD_USER_INPUT \(1 problem\):\n {2}confirmEmail: /,
    );

    const deleted = await cli([
      'users',
      'delete',
      '--user',
      id,
      '--confirm-email',
      'lovelace@example.org',
      '--json',
    ]);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({
      user: { id, status: 'DELETED' },
      apiTokensRemoved: 1,
      balanceCents: 0,
    });
    expect((await me()).status).toBe(401);
    const again = await cli(['users', 'suspend', '--user', id, '--reason', 'x']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^hero-admin: the user was not suspended: ACCOUNT_DELETED: /);
  });
});

describe('hero-admin users: naming a user', () => {
  it('an unknown email: a clear error (exit 1) and nothing changes; a partial one is refused (exit 2)', async () => {
    const user = await createUser(api);
    const state = async () =>
      db.query<{ status: string; n: string }>(
        `select (select status from users where id = $1) as status,
                (select count(*) from audit_log) as n`,
        [user.id],
      );
    const before = await state();

    const unknown = await cli(['users', 'suspend', '--user', 'nobody@example.org', '--reason', 'fraud']);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe('hero-admin: no user with the email nobody@example.org\n');

    // A part of the user's email is never taken for the user: not an address at all is a usage
    // error; an address is looked up exactly, so a shortened one is an unknown email.
    const local = user.email.slice(0, user.email.indexOf('@'));
    const partial = await cli(['users', 'suspend', '--user', local, '--reason', 'fraud']);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toBe(
      `hero-admin: users suspend: --user must be a user's whole email address or their id (got "${local}"; a part of an email or a name could match several users) (see hero-admin users suspend --help)\n`,
    );
    const shortened = await cli(['users', 'suspend', '--user', user.email.slice(1), '--reason', 'fraud']);
    expect(shortened.code).toBe(1);
    expect(shortened.stderr).toBe(`hero-admin: no user with the email ${user.email.slice(1)}\n`);
    expect(await state()).toEqual(before);
  });
});

describe('hero-admin users list, show, set-quota', () => {
  /** The value of a `key  value` line. */
  const field = (text: string, key: string) => new RegExp(`^${key} {2,}(.*)$`, 'm').exec(text)?.[1];
  /** The rows of the active VMs' table that `users show` prints after its lines. */
  const vmRows = (text: string) => tableRows(text.split('\n\n')[1] ?? '').slice(1);

  it('users list --search finds the user by a part of the email, with balance and plan', async () => {
    const user = await createUser(api);
    const local = user.email.slice(0, user.email.indexOf('@'));
    const res = await cli(['users', 'list', '--search', local.toUpperCase()]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rows = tableRows(res.stdout);
    expect(rows[0]).toEqual([
      'ID',
      'EMAIL',
      'STATUS',
      'EMAIL VERIFIED',
      'BALANCE',
      'VM QUOTA',
      'PERIOD END',
      'CREATED',
    ]);
    expect(rows).toHaveLength(2);
    // createUser gives a plan of one VM (setUserQuota); an operator-created email counts as verified
    expect(rows[1].slice(0, 6)).toEqual([user.id, user.email, 'ACTIVE', 'yes', '0 (0.00 EUR)', '1']);
    expect(rows[1][6]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);

    const newer = await createUser(api);
    const all = JSON.parse((await cli(['users', 'list', '--limit', '2', '--json'])).stdout);
    // newest first
    expect(all.map((u: { id: string }) => u.id)).toEqual([newer.id, user.id]);
    expect(all[1]).toMatchObject({ email: user.email, billing: { creditBalanceCents: 0, currency: 'EUR' } });
    expect((await cli(['users', 'list', '--search', 'no-such-user-anywhere'])).stdout).toBe(
      'no users match\n',
    );
  });

  it('users show prints the user, and the active VMs once one is allocated', async () => {
    const user = await createUser(api);
    const res = await cli(['users', 'show', '--user', user.email]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(field(res.stdout, 'id')).toBe(user.id);
    expect(field(res.stdout, 'status')).toBe('ACTIVE');
    expect(field(res.stdout, 'email verified')).toBe('yes');
    expect(field(res.stdout, 'balance')).toBe('0 (0.00 EUR)');
    expect(field(res.stdout, 'currency')).toBe('EUR');
    expect(field(res.stdout, 'vm quota')).toBe('1');
    expect(field(res.stdout, 'active vms')).toBe('0');

    const held = await allocated(user.token);
    try {
      const after = await cli(['users', 'show', '--user', user.id]);
      expect(field(after.stdout, 'active vms')).toBe('1');
      expect(vmRows(after.stdout)).toEqual([[held.id, held.poolVm.id, expect.stringMatching(/Z$/)]]);
      const json = JSON.parse((await cli(['users', 'show', '--user', user.id, '--json'])).stdout);
      expect(json).toMatchObject({ id: user.id, vmQuota: 1, allocations: [{ id: held.id }] });
    } finally {
      await api.admin(graphql('mutation($id: ID!) { releaseAllocation(id: $id) { __typename } }'), {
        id: held.id,
      });
    }
  });

  it('users set-quota changes quota and period end, re-dates the active VM; users show reflects it', async () => {
    const user = await createUser(api);
    const held = await allocated(user.token);
    try {
      const until = new Date(Date.now() + 90 * 24 * 3_600_000);
      until.setUTCMilliseconds(0);
      const shown = `${until.toISOString().slice(0, 19).replace('T', ' ')}Z`;
      const res = await cli([
        'users',
        'set-quota',
        '--user',
        user.email,
        '--quota',
        '3',
        '--until',
        until.toISOString(),
      ]);
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(field(res.stdout, 'vm quota')).toBe('3');
      expect(field(res.stdout, 'period end')).toBe(shown);

      const after = await cli(['users', 'show', '--user', user.id]);
      expect(field(after.stdout, 'vm quota')).toBe('3');
      expect(field(after.stdout, 'period end')).toBe(shown);
      // the plan's running VM now ends with the new period
      expect(vmRows(after.stdout)).toEqual([[held.id, held.poolVm.id, shown]]);

      const cleared = await cli([
        'users',
        'set-quota',
        '--user',
        user.id,
        '--quota',
        '0',
        '--clear',
        '--json',
      ]);
      expect(cleared.code).toBe(0);
      expect(JSON.parse(cleared.stdout).user).toMatchObject({ vmQuota: 0, vmQuotaPeriodEnd: null });
      const shownCleared = await cli(['users', 'show', '--user', user.id]);
      expect(field(shownCleared.stdout, 'period end')).toBe('-');
      // running allocations keep their end
      expect(vmRows(shownCleared.stdout)).toEqual([[held.id, held.poolVm.id, shown]]);
    } finally {
      await api.admin(graphql('mutation($id: ID!) { releaseAllocation(id: $id) { __typename } }'), {
        id: held.id,
      });
    }
  });

  it('set-quota: bad input exits 2 and changes nothing; a quota the API refuses exits 1', async () => {
    const user = await createUser(api);
    const state = async () =>
      db.query<{ vm_quota: number; vm_quota_period_end: Date | null }>(
        'select vm_quota, vm_quota_period_end from users where id = $1',
        [user.id],
      );
    const before = await state();
    for (const args of [
      ['--quota', 'two', '--clear'],
      ['--quota', '1', '--until', '2027-01-01'],
      ['--quota', '1'],
    ]) {
      const res = await cli(['users', 'set-quota', '--user', user.id, ...args]);
      expect(res.code).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(
        /^hero-admin: users set-quota: .* \(see hero-admin users set-quota --help\)\n$/,
      );
    }
    const tooMany = await cli(['users', 'set-quota', '--user', user.id, '--quota', '10001', '--clear']);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toMatch(
      /^hero-admin: the quota was not set: BAD_USER_INPUT \(1 problem\):\n {2}vmQuota: must be a whole number from 0 to 10000\n$/,
    );
    expect(await state()).toEqual(before);
  });

  it('an unknown user exits 1: by id after asking, by email before', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const byId = await cli(['users', 'show', '--user', id]);
    expect(byId.code).toBe(1);
    expect(byId.stdout).toBe('');
    expect(byId.stderr).toBe(`hero-admin: no user with the id ${id}\n`);
    const byEmail = await cli(['users', 'show', '--user', 'nobody@example.org']);
    expect(byEmail.code).toBe(1);
    expect(byEmail.stderr).toBe('hero-admin: no user with the email nobody@example.org\n');
    const quota = await cli(['users', 'set-quota', '--user', id, '--quota', '1', '--clear']);
    expect(quota.code).toBe(1);
    expect(quota.stderr).toMatch(/^hero-admin: the quota was not set: NOT_FOUND: /);
  });
});

describe('hero-admin operators', () => {
  it('the admin secret adds the first owner; set-role and remove refuse to leave no owner', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hero-cli-operators-'));
    try {
      const passwordFile = path.join(dir, 'password');
      await writeFile(passwordFile, 'correct horse battery\n');
      const email = `owner-${Date.now()}@example.org`;
      const added = await cli([
        'operators',
        'add',
        '--email',
        email,
        '--role',
        'owner',
        '--password-file',
        passwordFile,
        '--json',
      ]);
      expect(added.code, added.stderr).toBe(0);
      const owner = JSON.parse(added.stdout) as { id: string; email: string; role: string };
      expect(owner).toMatchObject({ email, role: 'OWNER' });

      const listed = await cli(['operators', 'list']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(new RegExp(`${owner.id} +${email} +owner +password`));

      const demoted = await cli(['operators', 'set-role', '--operator', owner.id, '--role', 'viewer']);
      expect(demoted.code).toBe(1);
      expect(demoted.stderr).toContain('LAST_OWNER');
      const removed = await cli(['operators', 'remove', '--operator', owner.id]);
      expect(removed.stderr).toContain('LAST_OWNER');

      const second = await cli([
        'operators',
        'add',
        '--email',
        `second-${email}`,
        '--role',
        'owner',
        '--json',
      ]);
      expect(second.code, second.stderr).toBe(0);
      const ok = await cli(['operators', 'remove', '--operator', owner.id]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toBe(`removed ${email}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('hero-admin allocations list', () => {
  it('lists ACTIVE allocations with --status ACTIVE, filters by user, follows --limit', async () => {
    const holder = await createUser(api);
    const leaver = await createUser(api);
    const held = await allocated(holder.token);
    const left = await allocated(leaver.token);
    const released = await api.admin(
      graphql('mutation($id: ID!) { releaseAllocation(id: $id) { __typename } }'),
      {
        id: left.id,
      },
    );
    expect(released.data.releaseAllocation.__typename).toBe('ReleaseAllocationSuccess');

    const res = await cli(['allocations', 'list', '--status', 'ACTIVE']);
    expect(res.code).toBe(0);
    const rows = tableRows(res.stdout);
    expect(rows[0]).toEqual([
      'ID',
      'USER EMAIL',
      'USER ID',
      'POOL VM',
      'STATUS',
      'ALLOCATED AT',
      'EXPIRES AT',
      'RELEASED AT',
      'REASON',
    ]);
    const heldRow = rows.find((r) => r[0] === held.id);
    expect(heldRow?.slice(1, 5)).toEqual([holder.email, holder.id, held.poolVm.id, 'ACTIVE']);
    expect(heldRow?.[5]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(rows.some((r) => r[0] === left.id)).toBe(false);
    expect(rows.slice(1).every((r) => r[4] === 'ACTIVE')).toBe(true);

    const mine = await cli(['allocations', 'list', '--user', leaver.email.toUpperCase(), '--json']);
    expect(mine.stderr).toBe('');
    expect(JSON.parse(mine.stdout)).toEqual([
      expect.objectContaining({
        id: left.id,
        userId: leaver.id,
        user: { email: leaver.email },
        status: 'RELEASED',
        releaseReason: 'ADMIN',
      }),
    ]);

    const all = JSON.parse((await cli(['allocations', 'list', '--json'])).stdout) as unknown[];
    expect(all.length).toBeGreaterThanOrEqual(2);
    const limited = JSON.parse((await cli(['allocations', 'list', '--limit', '1', '--json'])).stdout);
    expect(limited).toHaveLength(1);
  });
});

describe('hero-admin allocations extend', () => {
  it("moves an ACTIVE allocation's end, prints it with the reason, and keeps the history", async () => {
    const holder = await createUser(api);
    const held = await allocated(holder.token);
    const until = new Date(new Date(held.expiresAt).getTime() + 2 * 24 * 3600 * 1000).toISOString();
    const reason = 'support case: outage on our side';
    const res = await cli([
      'allocations',
      'extend',
      '--allocation',
      held.id,
      '--until',
      until,
      '--reason',
      reason,
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^expires at\\s+${until.slice(0, 19).replace('T', ' ')}Z$`, 'm'));
    expect(res.stdout).toMatch(new RegExp(`^reason\\s+${reason}$`, 'm'));
    const [row] = await db.query<{ expires_at: Date }>('select expires_at from vm_allocation where id = $1', [
      held.id,
    ]);
    expect(row.expires_at.toISOString()).toBe(until);
    const history = await api.admin(
      graphql(
        'query($id: ID!) { allocations(userId: $id) { edges { node { id extensions { reason expiresAt } } } } }',
      ),
      { id: holder.id },
    );
    expect(history.data.allocations.edges[0].node.extensions).toEqual([{ reason, expiresAt: until }]);
  });

  it('an end not later than the current one exits 1 with the problem; a released one is refused', async () => {
    const holder = await createUser(api);
    const held = await allocated(holder.token);
    const earlier = await cli([
      'allocations',
      'extend',
      '--allocation',
      held.id,
      '--until',
      held.expiresAt,
      '--reason',
      'x',
    ]);
    expect(earlier.code).toBe(1);
    expect(earlier.stdout).toBe('');
    expect(earlier.stderr).toMatch(
      /^hero-admin: the allocation was not extended: BAD_USER_INPUT \(1 problem\):\n {2}expiresAt: must be later than/,
    );
    await api.admin(graphql('mutation($id: ID!) { releaseAllocation(id: $id) { __typename } }'), {
      id: held.id,
    });
    const later = new Date(new Date(held.expiresAt).getTime() + 3600_000).toISOString();
    const released = await cli([
      'allocations',
      'extend',
      '--allocation',
      held.id,
      '--until',
      later,
      '--reason',
      'x',
    ]);
    expect(released.code).toBe(1);
    expect(released.stderr).toMatch(/^hero-admin: the allocation was not extended: ALLOCATION_NOT_ACTIVE: /);
  });

  it('a date without its offset is a usage error (exit 2), nothing sent', async () => {
    const res = await cli([
      'allocations',
      'extend',
      '--allocation',
      'a',
      '--until',
      '2026-12-24',
      '--reason',
      'x',
    ]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--until must be an ISO 8601 date-time with its offset/);
  });
});

describe('hero-admin allocations release', () => {
  it('releases an ACTIVE allocation (reason ADMIN); again changes nothing; unknown is NOT_FOUND', async () => {
    const holder = await createUser(api);
    const held = await allocated(holder.token);
    const res = await cli(['allocations', 'release', '--allocation', held.id]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`^user\\s+${holder.id} \\(${holder.email}\\)$`, 'm'));
    expect(res.stdout).toMatch(/^status\s+RELEASED$/m);
    expect(res.stdout).toMatch(/^reason\s+ADMIN$/m);
    const [row] = await db.query<{ status: string; released_at: Date }>(
      'select status, released_at from vm_allocation where id = $1',
      [held.id],
    );
    expect(row.status).toBe('RELEASED');
    const releasedAt = `${row.released_at.toISOString().slice(0, 19).replace('T', ' ')}Z`;
    expect(res.stdout).toMatch(new RegExp(`^released at\\s+${releasedAt}$`, 'm'));
    const vm = await api.admin(graphql('{ pool { id allocated } }'));
    expect(vm.data.pool.find((v) => v.id === held.poolVm.id)?.allocated).toBe(false);

    const again = await cli(['allocations', 'release', '--allocation', held.id, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      id: held.id,
      status: 'RELEASED',
      releaseReason: 'ADMIN',
      releasedAt: row.released_at.toISOString(),
    });

    const unknown = await cli([
      'allocations',
      'release',
      '--allocation',
      '00000000-0000-4000-8000-000000000000',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^hero-admin: the allocation was not released: NOT_FOUND: \S.*\n$/);
  });
});

describe('hero-admin auto-release --once', () => {
  const SUMMARY_KEYS = [
    'credit',
    'errors',
    'expiryWarnings',
    'planExpiringNotices',
    'plansRenewed',
    'rowsAlreadyReleased',
    'rowsExamined',
    'rowsExpired',
    'rowsReleased',
  ];

  async function expiredAllocation(): Promise<string> {
    const user = await createUser(api);
    const allocation = await allocated(user.token);
    await db.query("update vm_allocation set expires_at = now() - interval '1 minute' where id = $1", [
      allocation.id,
    ]);
    return allocation.id;
  }

  const statusOf = async (id: string) =>
    (
      await db.query<{ status: string; release_reason: string | null }>(
        'select status, release_reason from vm_allocation where id = $1',
        [id],
      )
    )[0];

  it('prints the summary of one run, which released the expired allocation', async () => {
    const id = await expiredAllocation();
    const res = await cli(['auto-release', '--once']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    for (const key of SUMMARY_KEYS.filter((k) => k !== 'credit'))
      expect(res.stdout).toMatch(new RegExp(`^${key}\\s+\\d+$`, 'm'));
    expect(res.stdout).toMatch(/^rowsReleased\s+1$/m);
    // The credit watch's counters, prefixed with their part.
    expect(res.stdout).toMatch(/^credit\.lowEvents\s+\d+$/m);
    expect(await statusOf(id)).toEqual({ status: 'RELEASED', release_reason: 'EXPIRED' });
  });

  it('--json prints the summary object', async () => {
    const id = await expiredAllocation();
    const res = await cli(['auto-release', '--once', '--json']);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(Object.keys(summary).sort()).toEqual(SUMMARY_KEYS);
    expect(summary).toMatchObject({ rowsReleased: 1, errors: [] });
    expect(summary.rowsExamined).toBeGreaterThanOrEqual(1);
    expect(await statusOf(id)).toEqual({ status: 'RELEASED', release_reason: 'EXPIRED' });
  });

  it('with a wrong secret exits non-zero with "forbidden" and releases nothing', async () => {
    const id = await expiredAllocation();
    const res = await cli(['auto-release', '--once'], { ADMIN_SECRET: WRONG_SECRET });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      'hero-admin: forbidden: the API refused the admin secret (wrong ADMIN_SECRET?)\n',
    );
    expect(await statusOf(id)).toEqual({ status: 'ACTIVE', release_reason: null });
  });

  it('while another run holds the job lock: "already running", exit 1, nothing released', async () => {
    const id = await expiredAllocation();
    const holder = await db.sql.connect();
    try {
      await holder.query('begin');
      await holder.query('select pg_advisory_xact_lock($1, hashtext($2))', [
        JOB_LOCK_NAMESPACE,
        AUTO_RELEASE_JOB,
      ]);
      const res = await cli(['auto-release', '--once']);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr).toBe(
        'hero-admin: auto-release is already running (a scheduled tick or another manual run holds its lock); try again when it is done\n',
      );
      expect(await statusOf(id)).toEqual({ status: 'ACTIVE', release_reason: null });
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    // the lock gone, the next run releases it (and the one the wrong-secret test left)
    const after = await cli(['auto-release', '--once', '--json']);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout).rowsReleased).toBeGreaterThanOrEqual(1);
    expect(await statusOf(id)).toEqual({ status: 'RELEASED', release_reason: 'EXPIRED' });
  });

  it('without --once is a usage error pointing at the worker', async () => {
    const res = await cli(['auto-release']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^hero-admin: auto-release: --once is required.*worker `auto-release`/);
  });
});

describe('hero-admin jobs list', () => {
  it('lists job runs newest first, as a table and as JSON', async () => {
    await db.query(
      `insert into job_run (job, trigger, host, pid, started_at, finished_at, status, summary, error) values
       ('outbox', 'SCHEDULE', 'worker-a', 101, now() - interval '2 hours', now() - interval '2 hours' + interval '1500 ms',
        'SUCCEEDED', '{"delivered": 3, "failed": 0}', null),
       ('outbox', 'SCHEDULE', 'worker-b', 202, now() - interval '1 hour', now() - interval '1 hour' + interval '250 ms',
        'FAILED', null, 'deployer unreachable'),
       ('cli-test-other', 'MANUAL', 'worker-c', 303, now() - interval '3 hours', null, 'RUNNING', null, null)`,
    );
    const res = await cli(['jobs', 'list', '--job', 'outbox']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const rows = tableRows(res.stdout);
    expect(rows[0]).toEqual([
      'ID',
      'JOB',
      'TRIGGER',
      'STATUS',
      'STARTED',
      'DURATION',
      'HOST/PID',
      'SUMMARY / ERROR',
    ]);
    expect(rows).toHaveLength(3);
    expect(rows[1].slice(1)).toEqual([
      'outbox',
      'SCHEDULE',
      'FAILED',
      expect.stringMatching(/Z$/),
      '250ms',
      'worker-b/202',
      'error: deployer unreachable',
    ]);
    expect(rows[2].slice(1)).toEqual([
      'outbox',
      'SCHEDULE',
      'SUCCEEDED',
      expect.stringMatching(/Z$/),
      '1.5s',
      'worker-a/101',
      // jsonb keeps its own key order
      expect.stringMatching(/^(?=.*\bdelivered=3\b)(?=.*\bfailed=0\b)/),
    ]);

    const json = await cli(['jobs', 'list', '--job', 'outbox', '--limit', '1', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ job: 'outbox', status: 'FAILED', error: 'deployer unreachable', pid: 202 }),
    ]);

    const other = JSON.parse((await cli(['jobs', 'list', '--job', 'cli-test-other', '--json'])).stdout);
    expect(other).toEqual([expect.objectContaining({ status: 'RUNNING', finishedAt: null })]);
    const running = tableRows((await cli(['jobs', 'list', '--job', 'cli-test-other'])).stdout)[1];
    expect(running.slice(3, 7)).toEqual(['RUNNING', expect.stringMatching(/Z$/), 'running', 'worker-c/303']);
  });

  it('shows the MANUAL run that `auto-release --once` just made, with its summary', async () => {
    const ran = await cli(['auto-release', '--once', '--json']);
    expect(ran.code).toBe(0);
    const [latest] = JSON.parse((await cli(['jobs', 'list', '--job', AUTO_RELEASE_JOB, '--json'])).stdout);
    expect(latest).toMatchObject({
      job: AUTO_RELEASE_JOB,
      trigger: 'MANUAL',
      status: 'SUCCEEDED',
      summary: JSON.parse(ran.stdout),
      error: null,
    });
    const table = await cli(['jobs', 'list', '--limit', '1']);
    const row = tableRows(table.stdout)[1];
    expect(row.slice(0, 4)).toEqual([latest.id, AUTO_RELEASE_JOB, 'MANUAL', 'SUCCEEDED']);
    expect(row[7]).toMatch(/rowsReleased=\d+/);
  });
});

describe('hero-admin errors and configuration', () => {
  it('a wrong admin secret exits 1 with "forbidden"', async () => {
    const res = await cli(['pool', 'list'], { ADMIN_SECRET: WRONG_SECRET });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      'hero-admin: forbidden: the API refused the admin secret (wrong ADMIN_SECRET?)\n',
    );
  });

  it('an API nobody listens on: "cannot reach the API"', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const res = await cli(['pool', 'list'], { HERO_API_URL: url });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      `hero-admin: cannot reach the API at ${url}: connection refused (is the api running?)\n`,
    );
  });

  it('usage errors exit 2 with one line, and need no configuration', async () => {
    const res = await cli(['pool', 'list', '--status', 'BROKEN'], { ADMIN_SECRET: undefined });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(
      /^hero-admin: pool list: --status must be one of AVAILABLE, MAINTENANCE, RETIRED/,
    );
    expect(res.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['users', 'create'])).code).toBe(2);
  });

  it('without an admin secret: every configuration problem listed, exit 1', async () => {
    const res = await cli(['pool', 'list'], {
      ADMIN_SECRET: undefined,
      HERO_API_URL: 'ftp://example.org',
      HERO_API_TIMEOUT_MS: 'soon',
    });
    expect(res.code).toBe(1);
    const lines = res.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('hero-admin: invalid configuration');
    expect(lines.slice(1).sort()).toEqual([
      '  - ADMIN_SECRET: required (set ADMIN_SECRET or ADMIN_SECRET_FILE)',
      '  - HERO_API_TIMEOUT_MS: must be a number of milliseconds',
      '  - HERO_API_URL: must be an http(s) URL',
    ]);
  });

  it('reads the secret from ADMIN_SECRET_FILE', async () => {
    const file = path.join(dir, 'admin-secret');
    await writeFile(file, `${api.adminSecret}\n`, { mode: 0o600 });
    const res = await cli(['pool', 'list', '--json'], { ADMIN_SECRET: undefined, ADMIN_SECRET_FILE: file });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toHaveLength(6);
  });

  it('--help answers without configuration', async () => {
    const res = await cli(['--help'], { ADMIN_SECRET: undefined });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^usage: hero-admin <command>/m);
    const sub = await cli(['allocations', 'list', '--help'], { ADMIN_SECRET: undefined });
    expect(sub.stdout).toContain('--limit <n>');
  });
});

describe('the hero-admin bin', () => {
  it('is linked into node_modules/.bin and runs through its launcher', async () => {
    const bin = path.join(REPO_ROOT, 'node_modules', '.bin');
    const env = childEnv({});
    // as npx and npm scripts do: node_modules/.bin (and so Node 24) first on the PATH
    env.PATH = `${bin}${path.delimiter}${env.PATH ?? ''}`;
    const child = spawn(path.join(bin, 'hero-admin'), ['--version'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    const [code] = await once(child, 'close');
    expect(out).toMatch(/^hero-admin \d+\.\d+\.\d+\n$/);
    expect(code).toBe(0);
  });
});
