// `node --import tsx webui/test/dev.ts [dataDir]`: seeds the standard fixture and runs a master serving webui/dist.
import fs from 'node:fs';
import { seedStandard } from './seed';
import { ADMIN_PASSWORD, seedDatabase, startMaster, tempDataDir } from './master';

const dir = process.argv[2] ?? tempDataDir();
if (!fs.existsSync(`${dir}/.seeded`)) {
  const t = Date.now();
  const f = await seedDatabase(dir, seedStandard);
  fs.writeFileSync(`${dir}/.seeded`, JSON.stringify(f));
  console.log(`seeded in ${Date.now() - t} ms: curves=${f.curves.id} asha=${f.asha.id} active=${f.active.id} trial=${f.curves.trialIds[0]}`);
}
const m = await startMaster(dir);
console.log(`master at ${m.url} (data ${dir}); sign in as admin / ${ADMIN_PASSWORD}`);
process.on('SIGINT', () => void m.stop().then(() => process.exit(0)));
process.on('SIGTERM', () => void m.stop().then(() => process.exit(0)));
