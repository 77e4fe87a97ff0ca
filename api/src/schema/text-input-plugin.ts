import { ValidationError } from '@hero/core/errors';
import { MAX_INPUT_STRING_LENGTH, textInputProblems } from '@hero/core/lib/text-input';
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';

/**
 * Longer strings than MAX_INPUT_STRING_LENGTH, where a field needs them: by field coordinate,
 * then argument path.
 */
export const LONGER_INPUT_STRINGS: Record<string, Record<string, number>> = {
  // A whole pool manifest may come as one JSON text (the request body limit bounds it too).
  'Mutation.refreshPool': { 'input.manifest': 4_000_000 },
};

/**
 * Every field with arguments checks them first (see lib/text-input.ts): a NUL, an unpaired
 * surrogate or an over-long string anywhere in them is a ValidationError naming the argument
 * path, before the resolver runs. It wraps inside the scope-auth and errors plugins: auth is
 * checked first, and a field whose result union has ValidationError answers it there; any
 * other field answers a top-level BAD_USER_INPUT error.
 */
export class TextInputPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (Object.keys(fieldConfig.args).length === 0) return resolver;
    const longer = LONGER_INPUT_STRINGS[`${fieldConfig.parentType}.${fieldConfig.name}`] ?? {};
    const maxLengthAt = (path: string) => longer[path] ?? MAX_INPUT_STRING_LENGTH;
    return (parent, args, context, info) => {
      const problems = textInputProblems(args, '', maxLengthAt);
      if (problems.length > 0) throw new ValidationError(problems, 'Invalid input');
      return resolver(parent, args, context, info);
    };
  }
}

export const textInputPluginName = 'textInput';

SchemaBuilder.registerPlugin(textInputPluginName, TextInputPlugin);

declare global {
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      textInput: TextInputPlugin<Types>;
    }
  }
}
