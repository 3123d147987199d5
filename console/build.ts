import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

/**
 * Builds the ops console into `outDir`: one bundled ES module (app.js, graphql-ws's client inside it) beside
 * index.html and style.css. The gateway serves that directory under /ops/ (gateway/ops-console.ts); nothing comes from
 * a CDN. `npm run build` writes dist/console.
 */
export async function buildConsole(outDir: string): Promise<void> {
  const here = __dirname;
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    outfile: join(outDir, 'app.js'),
    logLevel: 'silent',
  });
  for (const file of ['index.html', 'style.css']) copyFileSync(join(here, 'static', file), join(outDir, file));
}

if (require.main === module) {
  const out = resolve(process.argv[2] ?? 'dist/console');
  buildConsole(out).then(
    () => console.log(`ops console built into ${out}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
