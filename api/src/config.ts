import { z } from 'zod';
import { type Env, parseEnv } from './lib/env.ts';

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

export const apiConfigSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }),
    API_HOST: z.string().default('0.0.0.0'),
    API_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    ADMIN_SECRET: z.string().min(16, 'must be at least 16 characters'),
    VM_POOL_JSON: z.string().optional(),
    VM_POOL_FILE: z.string().optional(),
    PROVISIONER_DEMO: bool.default(false),
    DEFAULT_ALLOCATION_TTL_HOURS: z.coerce.number().positive().default(720),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DB_POOL_MAX: z.coerce.number().int().min(1).default(10),
    MIGRATE_ON_START: bool.default(true),
  })
  .refine((c) => !(c.VM_POOL_JSON && c.VM_POOL_FILE), {
    message: 'VM_POOL_JSON and VM_POOL_FILE are both set: use one of them',
    path: ['VM_POOL_JSON'],
  })
  .refine((c) => !c.VM_POOL_FILE?.split(/[\\/]/).includes('..'), {
    message: "a path with '..' is refused",
    path: ['VM_POOL_FILE'],
  });

export type ApiConfig = z.infer<typeof apiConfigSchema>;

export function loadApiConfig(env: Env = process.env): ApiConfig {
  return parseEnv(apiConfigSchema, env, ['ADMIN_SECRET', 'DATABASE_URL']);
}
