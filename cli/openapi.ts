import { readFile, writeFile } from 'node:fs/promises';
import { renderOpenApi } from '#core/openapi/document';

/**
 * npm run openapi            writes openapi.json at the repository root from the route table and the styles' schemas
 * npm run openapi -- --check  only says whether the committed file is current (exit code 1 when it is stale)
 */

const target = new URL('../openapi.json', import.meta.url);

const main = async () => {
  const text = renderOpenApi();
  if (process.argv.includes('--check')) {
    const committed = await readFile(target, 'utf8').catch(() => '');
    if (committed === text) {
      console.log('openapi.json is current.');
      return;
    }
    console.error('openapi.json is stale: run npm run openapi');
    process.exitCode = 1;
    return;
  }
  await writeFile(target, text);
  console.log(`Wrote openapi.json (${Object.keys((JSON.parse(text) as { paths: object }).paths).length} paths).`);
};

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
