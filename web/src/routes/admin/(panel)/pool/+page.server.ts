import { graphql, type ResultOf, readFragment } from '@hero/graphql';
import { fail } from '@sveltejs/kit';
import type { Done, FailedWith } from '#lib/components/admin/types.ts';
import { adminGql, adminQuery, badInput, enumParam, failedFrom, failedFromUnion } from '#lib/server/admin.ts';
import { ErrorFields } from '#lib/server/admin-fragments.ts';
import type { Actions, PageServerLoad } from './$types';

const POOL_STATUSES = ['AVAILABLE', 'MAINTENANCE', 'RETIRED'] as const;

const POOL = graphql(`
  query AdminPool($status: PoolVmStatus) {
    pool(status: $status) {
      id
      name
      host
      region
      status
      allocated
      cockpitUrl
      updatedAt
    }
  }
`);

const REFRESH_POOL = graphql(
  `
    mutation AdminRefreshPool($input: RefreshPoolInput!) {
      refreshPool(input: $input) {
        __typename
        ...ErrorFields
        ... on RefreshPoolSuccess {
          result {
            prevPoolSize
            poolSize
            added
            updated
            retired
          }
        }
      }
    }
  `,
  [ErrorFields],
);

type RefreshPayload = Extract<
  ResultOf<typeof REFRESH_POOL>['refreshPool'],
  { __typename: 'RefreshPoolSuccess' }
>['result'];

export const load: PageServerLoad = async (event) => {
  const status = enumParam(event.url, 'status', POOL_STATUSES);
  const result = await adminQuery(event, POOL, { status });
  return { filters: { status: status ?? '' }, pool: result.data?.pool ?? [], error: result.error };
};

/** An uploaded file, when one was chosen (browsers send an empty, nameless part otherwise). */
function uploaded(value: FormDataEntryValue | null): File | null {
  return value !== null && typeof value === 'object' && value.size > 0 ? value : null;
}

export const actions: Actions = {
  refresh: async (event) => {
    const form = await event.request.formData();
    const pasted = form.get('manifest');
    // Kept as typed (not trimmed) so the textarea shows it back unchanged after a refusal.
    const values = { manifest: typeof pasted === 'string' ? pasted : '' };
    const file = uploaded(form.get('file'));
    const source = file ? `the file ${file.name || '(unnamed)'}` : 'the manifest';
    const text = file ? await file.text() : values.manifest;
    const refused = (message: string, path = file ? 'file' : 'manifest') =>
      fail(400, {
        refresh: { ...badInput(message, [{ path, message }]), values } satisfies FailedWith<typeof values>,
      });

    if (!text.trim()) return refused('Paste a manifest (JSON) or choose a manifest file.');
    let manifest: unknown;
    try {
      manifest = JSON.parse(text);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return refused(`${source[0].toUpperCase()}${source.slice(1)} is not valid JSON: ${why}`);
    }

    let result: ResultOf<typeof REFRESH_POOL>['refreshPool'];
    try {
      ({ refreshPool: result } = await adminGql(event, REFRESH_POOL, { input: { manifest } }));
    } catch (err) {
      return fail(503, { refresh: { ...failedFrom(err), values } satisfies FailedWith<typeof values> });
    }
    if (result.__typename === 'RefreshPoolSuccess') {
      const r = result.result;
      return {
        refresh: {
          ok: true,
          message: `Pool refreshed from ${source}: ${r.prevPoolSize} → ${r.poolSize} VMs.`,
          result: r,
        } satisfies Done<{ result: RefreshPayload }>,
      };
    }
    const failure = failedFromUnion(readFragment(ErrorFields, result));
    const n = failure.problems.length;
    return fail(400, {
      refresh: {
        ...failure,
        message: `The manifest was refused; the pool is unchanged. ${n} problem${n === 1 ? '' : 's'}:`,
        values,
      } satisfies FailedWith<typeof values>,
    });
  },
};
