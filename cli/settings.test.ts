import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from './settings.js';

describe('where CLIs find hub and identity', () => {
  const home = mkdtempSync(join(tmpdir(), 'ku-settings-'));
  const cfgDir = join(home, 'cfg');
  mkdirSync(join(cfgDir, 'ku'), { recursive: true });
  writeFileSync(join(cfgDir, 'ku', 'config.json'), JSON.stringify({ hub: 'file-hub:1', identity: '/file/id' }));
  const idDir = join(home, 'id');
  mkdirSync(idDir);
  writeFileSync(join(idDir, 'ku.json'), JSON.stringify({ hub: 'meta-hub:3' }));

  it('flags beat the environment, which beats the config file', () => {
    const env = { XDG_CONFIG_HOME: cfgDir, KU_HUB: 'env-hub:2', KU_IDENTITY: '/env/id', KU_SESSION: 's1' };
    expect(resolveSettings({ hub: 'flag-hub:9', identity: '/flag/id' }, env)).toEqual({ hub: 'flag-hub:9', identityDir: '/flag/id', session: 's1' });
    expect(resolveSettings({}, env)).toEqual({ hub: 'env-hub:2', identityDir: '/env/id', session: 's1' });
    expect(resolveSettings({}, { XDG_CONFIG_HOME: cfgDir })).toEqual({ hub: 'file-hub:1', identityDir: '/file/id', session: '' });
  });

  it('falls back to the hub recorded in the identity directory, and says what is missing', () => {
    expect(resolveSettings({ identity: idDir }, { XDG_CONFIG_HOME: join(home, 'none') }).hub).toBe('meta-hub:3');
    expect(() => resolveSettings({}, { XDG_CONFIG_HOME: join(home, 'none') })).toThrow(expect.objectContaining({ code: 'KU_ERR_IDENTITY_MISSING' }));
    expect(() => resolveSettings({ identity: '/nowhere' }, { XDG_CONFIG_HOME: join(home, 'none') })).toThrow(expect.objectContaining({ code: 'KU_ERR_HUB_ADDRESS_MISSING' }));
  });
});
