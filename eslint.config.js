// @ts-check
import { readdirSync } from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Every app (a folder of apps/): each owns a main() and nothing imports it. */
const apps = readdirSync(`${import.meta.dirname}/apps`, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/** Import patterns that reach into the given apps, by package name or by relative path. */
const importsOf = (names) =>
  names.length === 0
    ? []
    : [
        { group: names.map((name) => `@hopper/${name}`) },
        { regex: `^(\\.\\./)+(apps/)?(${names.join('|')})/` },
      ];

/**
 * The store's writer (writes, maintenance, migration) is the worker's. Gateways and the other apps
 * open a StoreReader; tests and the bench, which build stores, may open a writer too.
 */
const STORE_WRITER_APPS = new Set(['worker', 'bench']);
const storeWriterPaths = [
  {
    name: '@hopper/store',
    importNames: ['openStoreWriter', 'StoreWriter', 'StoreWriterOptions'],
    message: 'Only the worker writes the store: open a StoreReader (openStoreReader) instead.',
  },
];
const TESTS = ['**/*.test.ts'];
/**
 * A lib is imported by its package name, never by a path into its files: a relative path into
 * `libs/store/src/store.ts` would get round the writer rule above, and into any lib round its
 * index's choice of what it exports.
 */
const libFilesByPath = {
  regex: '^(\\.\\./)+(libs/)?[a-z][a-z-]*/src/',
  message: 'Import a lib by its package (@hopper/<name>), not by a path into its files.',
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '.hopper/**',
      'reports/**',
      'coverage/**',
      // The progress page's bundle (built by apps/web) and the browser test's screenshots.
      'apps/web/dist/**',
      'test-output/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // The Node version check (apps/stack): plain CommonJS that any Node can parse, so no TypeScript.
    files: ['**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-var': 'off' },
  },
  {
    // Libraries never read the environment: configuration is parsed once in each app's main().
    files: ['libs/**/*.ts'],
    ignores: ['libs/**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Libs take configuration as arguments; only apps read process.env.',
        },
      ],
    },
  },
  {
    // Dependencies flow from apps to libs: a lib never imports an app; nor does a lib write the store.
    files: ['libs/**/*.ts'],
    ignores: TESTS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: storeWriterPaths,
          patterns: [
            ...importsOf(apps).map((pattern) => ({
              ...pattern,
              message: 'Libs never import an app: move what both need into a lib.',
            })),
            libFilesByPath,
          ],
        },
      ],
    },
  },
  {
    // A lib's tests may build a store to test against.
    files: TESTS.map((glob) => `libs/${glob}`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: importsOf(apps).map((pattern) => ({
            ...pattern,
            message: 'Libs never import an app: move what both need into a lib.',
          })),
        },
      ],
    },
  },
  {
    // The job protocol is given the store and document parsing (DocumentVersions, FailurePolicy, the
    // worker's handlers), so it depends on neither, nor on the caches and embeddings. Repeats the
    // rule above: a later no-restricted-imports replaces it for these files.
    files: ['libs/jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...importsOf(apps).map((pattern) => ({
              ...pattern,
              message: 'Libs never import an app: move what both need into a lib.',
            })),
            {
              group: ['@hopper/store', '@hopper/documents', '@hopper/embeddings', '@hopper/cache'],
              message: 'libs/jobs is given the store and document parsing by the apps; it imports neither.',
            },
            libFilesByPath,
          ],
        },
      ],
    },
  },
  // Apps do not import each other: what two apps share belongs in a lib. Only the worker (and the
  // bench, and tests) may import the store's writer.
  ...apps
    .map((app) => {
      const writes = STORE_WRITER_APPS.has(app);
      const rule = (forbidWriter) => ({
        'no-restricted-imports': [
          'error',
          {
            ...(forbidWriter ? { paths: storeWriterPaths } : {}),
            patterns: [
              ...importsOf(apps.filter((other) => other !== app)).map((pattern) => ({
                ...pattern,
                message: `apps/${app} may not import another app: move what both need into a lib.`,
              })),
              libFilesByPath,
            ],
          },
        ],
      });
      return writes
        ? { files: [`apps/${app}/**/*.ts`], rules: rule(false) }
        : [
            { files: [`apps/${app}/**/*.ts`], ignores: TESTS, rules: rule(true) },
            { files: TESTS.map((glob) => `apps/${app}/${glob}`), rules: rule(false) },
          ];
    })
    .flat(),
);
