/**
 * The compiler options of a user's own project, as the README asks for them:
 * strict, decorators with their metadata, nodenext. Specs that compile code
 * the way a user would (a fresh install, the README's snippets) start here.
 */
export const USER_COMPILER_OPTIONS = {
  target: 'es2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  strict: true,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
} as const;
