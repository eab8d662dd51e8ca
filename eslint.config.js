import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['**/dist/**', '**/node_modules/**', 'data/**', '**/screenshots/**'] }),
  {
    rules: {
      // `void promise` marks a deliberately unawaited promise; as a statement it is the clearest way to say so.
      'no-void': ['error', { allowAsStatement: true }],
      // A trailing comma after the last line of a multi-line literal keeps diffs to one line; it is allowed, not forced.
      '@stylistic/comma-dangle': ['error', 'only-multiline'],
      // `const X = {...} as const` beside `type X = ...` is the enum pattern; tsc catches real redeclarations.
      '@typescript-eslint/no-redeclare': 'off',
      'no-redeclare': 'off',
      // fastify's limit and exceptions: a line past 120 columns is usually two steps; text that cannot be broken
      // (strings, templates, regexps, URLs) and comments are left to the writer.
      '@stylistic/max-len': ['error', {
        code: 120,
        tabWidth: 2,
        ignoreUrls: true,
        ignoreStrings: true,
        ignoreTemplateLiterals: true,
        ignoreRegExpLiterals: true,
        ignoreComments: true,
        ignoreTrailingComments: true,
      }],
    },
  },
]
