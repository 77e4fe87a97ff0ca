import {
  type DomainError,
  ERROR_CODES,
  NotFoundError,
  PoolExhaustedError,
  type Problem,
  QuotaExceededError,
  ValidationError,
} from '../../errors.ts';
import { builder } from '../builder.ts';

export const ErrorCodeEnum = builder.enumType('ErrorCode', { values: ERROR_CODES });

export const ErrorInterface = builder.interfaceRef<DomainError>('Error').implement({
  description: 'Every error a result union can return: a human message and a stable code.',
  fields: (t) => ({
    message: t.exposeString('message'),
    code: t.field({ type: ErrorCodeEnum, resolve: (e) => e.code }),
  }),
});

const ProblemType = builder.objectRef<Problem>('Problem').implement({
  description: 'One problem with the input; `path` says where (e.g. `pool[2].cockpitUrl`).',
  fields: (t) => ({ path: t.exposeString('path'), message: t.exposeString('message') }),
});

builder.objectType(PoolExhaustedError, {
  name: 'PoolExhaustedError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof PoolExhaustedError,
});

builder.objectType(QuotaExceededError, {
  name: 'QuotaExceededError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof QuotaExceededError,
  fields: (t) => ({
    vmQuota: t.exposeInt('vmQuota'),
    activeAllocations: t.exposeInt('activeAllocations'),
  }),
});

builder.objectType(NotFoundError, {
  name: 'NotFoundError',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof NotFoundError,
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'BAD_USER_INPUT: the input was refused whole; every problem is listed.',
  interfaces: [ErrorInterface],
  isTypeOf: (e) => e instanceof ValidationError,
  fields: (t) => ({ problems: t.field({ type: [ProblemType], resolve: (e) => e.problems }) }),
});
