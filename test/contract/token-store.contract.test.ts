import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyJobStore } from '../../src/adapters/store/sql/kysely-job-store.js';
import { KyselyTokenStore } from '../../src/adapters/store/sql/kysely-token-store.js';
import { localPrincipal, newJobId } from '../../src/domain/index.js';
import { TokenService } from '../../src/services/token-service.js';
import { openScratchStore, storeKinds } from './backends.js';

describe.each(storeKinds)('TokenStore and AuditLog contract: %s', (kind) => {
  let store: KyselyJobStore;
  let tokens: KyselyTokenStore;
  let service: TokenService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await openScratchStore(kind));
    tokens = new KyselyTokenStore(store.db);
    service = new TokenService(tokens, tokens);
  });
  afterAll(async () => {
    await close?.();
  });

  it('stores only the hash, authenticates the secret, and refuses a taken name', async () => {
    const { token, record } = await service.create({
      name: 'carol',
      scopes: ['submit', 'read'],
      engines: ['echo'],
      createdBy: 'test',
    });
    const stored = await tokens.findTokenByName('carol');
    expect(stored).toMatchObject({
      id: record.id,
      scopes: ['submit', 'read'],
      engines: ['echo'],
      revokedAt: null,
    });
    expect(stored?.secretSha256).toHaveLength(32);
    expect(JSON.stringify(await tokens.listTokens())).not.toContain(token.split('_')[2]);
    const principal = await service.authenticate(token);
    expect(principal).toMatchObject({ kind: 'token', name: 'carol', engines: ['echo'] });
    expect(await service.authenticate(token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBe(
      'wrong secret',
    );
    await expect(
      service.create({ name: 'carol', scopes: ['read'], createdBy: 'test' }),
    ).rejects.toMatchObject({
      code: 'TOKEN_EXISTS',
    });
  });

  it('refuses expired and revoked tokens, and a revoked name stays taken', async () => {
    const now = new Date();
    const { token: shortLived } = await service.create({
      name: 'brief',
      scopes: ['read'],
      expiresInMs: 60_000,
      createdBy: 'test',
      now,
    });
    expect(await service.authenticate(shortLived, new Date(now.getTime() + 59_000))).toMatchObject({
      name: 'brief',
    });
    expect(await service.authenticate(shortLived, new Date(now.getTime() + 60_000))).toBe('expired');
    const { token } = await service.create({ name: 'gone', scopes: ['read'], createdBy: 'test' });
    await service.revoke('gone', 'test');
    expect(await service.authenticate(token)).toBe('revoked');
    await expect(service.revoke('gone', 'test')).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
    await expect(service.create({ name: 'gone', scopes: ['read'], createdBy: 'test' })).rejects.toMatchObject(
      {
        code: 'TOKEN_EXISTS',
      },
    );
  });

  it('pages the audit log newest first and cuts over-long fields', async () => {
    for (let i = 0; i < 5; i++)
      await tokens.appendAudit({
        at: new Date(),
        actor: null,
        action: 'request.refused',
        target: `GET /x/${i}/${'y'.repeat(1000)}`,
        outcome: '401',
        address: '127.0.0.1',
        detail: 'no token',
      });
    const first = await tokens.listAudit(null, 3);
    expect(first.entries.map((e) => e.target.slice(0, 8))).toEqual(['GET /x/4', 'GET /x/3', 'GET /x/2']);
    expect(first.entries[0]!.target.length).toBe(512);
    const second = await tokens.listAudit(first.nextCursor, 3);
    expect(second.entries[0]!.target.slice(0, 8)).toBe('GET /x/1');
  });

  it('keeps at most the newest audit lines it is told to', async () => {
    const small = new KyselyTokenStore(store.db, 2);
    await small.pruneAudit();
    const left = await small.listAudit(null, 10);
    expect(left.entries.map((e) => e.target.slice(0, 8))).toEqual(['GET /x/4', 'GET /x/3']);
  });

  it('records and filters jobs by owner', async () => {
    const input = { name: 'f', size: 1, sha256: randomBytes(32).toString('hex') };
    const mine = { id: newJobId(), engine: 'owned', input, createdAt: new Date(), owner: 'carol' };
    const open = { id: newJobId(), engine: 'owned', input, createdAt: new Date() };
    await store.insertJobs([mine, open]);
    expect((await store.getJob(mine.id))?.owner).toBe('carol');
    expect((await store.getJob(open.id))?.owner).toBeNull();
    const page = await store.listJobs({ engine: 'owned', owner: 'carol' }, null, 10);
    expect(page.jobs.map((j) => j.id)).toEqual([mine.id]);
    expect(localPrincipal.scopes.has('read-all')).toBe(true);
  });
});
