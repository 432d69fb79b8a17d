/**
 * Builds the `shardflow dev` web UI into a static folder (default
 * local/ui/dist/): `npx tsx scripts/build-ui.ts [outDir]`. `dev` also builds
 * it on start when the folder is missing.
 */
import path from 'node:path';
import { buildUi } from '../local/ui/build';

const out = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
const r = await buildUi(out);
console.log(`UI bundle: ${path.relative(process.cwd(), r.outDir) || '.'} (${r.bytes} bytes)`);
