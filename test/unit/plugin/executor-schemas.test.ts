import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHANNELS, DEFAULT_CHANNEL } from '../../../tools/nx-releng/src/config/schema';

const plugin = join(__dirname, '..', '..', '..', 'tools', 'nx-releng');
const executorsDir = join(plugin, 'src', 'executors');
const executorNames = readdirSync(executorsDir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

test('executors.json registers every executor dir, and each dir has its executor, schema.json and schema types', () => {
  const registered = JSON.parse(readFileSync(join(plugin, 'executors.json'), 'utf8')).executors as Record<string, { implementation: string; schema: string }>;
  assert.deepEqual(Object.keys(registered).sort(), executorNames);
  for (const name of executorNames) {
    for (const file of ['executor.ts', 'schema.json', 'schema.d.ts']) {
      assert.ok(existsSync(join(executorsDir, name, file)), `executors/${name}/${file} is missing`);
    }
    assert.match(registered[name]?.schema ?? '', new RegExp(`executors/${name}/schema\\.json$`));
  }
});

test("every executor's channel option offers exactly the model's channels, with the model's default", () => {
  let withChannel = 0;
  for (const name of executorNames) {
    const schema = JSON.parse(readFileSync(join(executorsDir, name, 'schema.json'), 'utf8'));
    const channel = schema.properties?.channel;
    if (!channel) continue;
    withChannel++;
    assert.deepEqual(channel.enum, [...CHANNELS], `executors/${name}/schema.json: channel enum differs from config/schema.ts CHANNELS`);
    assert.equal(channel.default, DEFAULT_CHANNEL, `executors/${name}/schema.json: channel default differs from DEFAULT_CHANNEL`);
  }
  // refresh, compose, sync-staging, updateinfo, sign, verify, sync-prod, housekeeping, torrents
  assert.equal(withChannel, 9);
});
