import { readFile } from 'node:fs/promises';
import { graphql } from '@hero/graphql';
import { validationFailure } from '../client.ts';
import { defineCommand } from '../command.ts';
import { CliError } from '../errors.ts';
import { formatJson, formatKeyValues, formatTable } from '../format.ts';

const POOL_VM_STATUSES = ['AVAILABLE', 'MAINTENANCE', 'RETIRED'] as const;

// --- pool refresh ---------------------------------------------------------------------------

export const REFRESH_POOL = graphql(`mutation RefreshPool($input: RefreshPoolInput!) {
  refreshPool(input: $input) {
    __typename
    ... on RefreshPoolSuccess { result { prevPoolSize poolSize added updated retired } }
    ... on ValidationError { code message problems { path message } }
  }
}`);

async function readManifest(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${file}: ${e.code ?? e.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

export const poolRefresh = defineCommand({
  name: 'pool refresh',
  summary: 'reconcile the pool with a manifest file',
  description:
    'Sends the manifest (a JSON array of pool VMs, or { "pool": [...] }) to refreshPool: listed VMs\n' +
    'are upserted, unlisted ones become RETIRED. An invalid manifest is refused whole (every problem\n' +
    'is printed to stderr, exit 1) and the pool is left unchanged.',
  options: {
    file: { type: 'string', value: '<path>', required: true, help: 'the pool manifest (JSON), required' },
  },
  parse: (values) => ({ file: values.required('file') }),
  uses: 'api',
  async run({ client, json, io }, { file }) {
    const manifest = await readManifest(file);
    const { refreshPool: result } = await client.request(REFRESH_POOL, { input: { manifest } });
    if (result.__typename === 'ValidationError')
      throw validationFailure(`the pool manifest ${file} was refused; the pool is unchanged`, result);
    const r = result.result;
    if (json) return io.out(formatJson(r));
    io.out(
      formatKeyValues([
        ['prevPoolSize', r.prevPoolSize],
        ['poolSize', r.poolSize],
        ['added', r.added],
        ['updated', r.updated],
        ['retired', r.retired],
      ]),
    );
  },
});

// --- pool list ------------------------------------------------------------------------------

export const POOL = graphql(`query Pool($status: PoolVmStatus) {
  pool(status: $status) { id name status allocated host region cockpitUrl updatedAt }
}`);

export const poolList = defineCommand({
  name: 'pool list',
  summary: 'list the pool VMs (RETIRED ones included)',
  options: {
    status: { type: 'string', value: POOL_VM_STATUSES.join('|'), help: 'only VMs with this status' },
  },
  parse: (values) => ({ status: values.oneOf('status', POOL_VM_STATUSES) }),
  uses: 'api',
  async run({ client, json, io }, { status }) {
    const { pool } = await client.request(POOL, { status: status ?? null });
    if (json) return io.out(formatJson(pool));
    if (pool.length === 0) return io.out(status ? `no pool VMs with status ${status}\n` : 'no pool VMs\n');
    io.out(
      formatTable(
        ['id', 'name', 'status', 'allocated', 'host', 'cockpit URL'],
        pool.map((vm) => [vm.id, vm.name, vm.status, vm.allocated, vm.host, vm.cockpitUrl]),
      ),
    );
  },
});
