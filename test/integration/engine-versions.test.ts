import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  docker,
  leftoversOf,
  startTestService,
  submit,
  waitForFinal,
  writeEngines,
} from '../helpers/service.js';

const run = promisify(execFile);

interface EngineJson {
  digest: string | null;
  registryDigest: string | null;
  updateAvailable: boolean | null;
}

describe('engine versions: tag → digest', () => {
  const repo = `localhost:5000/versions-${randomBytes(3).toString('hex')}`;
  const tag = `${repo}:stable`;
  const made: string[] = [];

  afterAll(async () => {
    for (const ref of [tag, ...made]) {
      await docker
        .getImage(ref)
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  it('records the digest each job ran and says when a newer image sits under the tag', async () => {
    // v1: the busybox image under a fresh tag, pushed to the local registry.
    await docker.getImage('menagerie/busybox:latest').tag({ repo, tag: 'stable' });
    await run('docker', ['push', tag]);
    const svc = await startTestService({
      engines: await writeEngines([
        {
          name: 'versioned',
          image: tag,
          cmd: ['/bin/sh', '-c', 'echo v1'],
          user: 1000,
          timeout: 30,
          sizelimit: 1000,
        },
      ]),
    });
    try {
      const id = await submit(svc.url, 'versioned', Buffer.from('x'));
      const job = await waitForFinal(svc.url, id);
      const first = (await (
        await fetch(`${svc.url}/api/v1/engines/versioned?checkRegistry=true`)
      ).json()) as EngineJson;
      expect(first.digest).toMatch(new RegExp(`^${repo}@sha256:[0-9a-f]{64}$`));
      expect(job.imageDigest).toBe(first.digest);
      expect(first.registryDigest).toBe(first.digest!.split('@')[1]);
      expect(first.updateAvailable).toBe(false);

      // v2 pushed under the same tag from elsewhere; this host still has v1 locally.
      const v1 = (await docker.getImage(tag).inspect()).Id;
      await run('sh', [
        '-c',
        `printf 'FROM ${tag}\\nLABEL version=2\\n' | DOCKER_BUILDKIT=0 docker build -q -t ${tag} -`,
      ]);
      await run('docker', ['push', tag]);
      made.push((await docker.getImage(tag).inspect()).Id);
      await docker.getImage(v1).tag({ repo, tag: 'stable' });
      const second = (await (
        await fetch(`${svc.url}/api/v1/engines/versioned?checkRegistry=true`)
      ).json()) as EngineJson;
      expect(second.digest).toBe(first.digest);
      expect(second.registryDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(second.registryDigest).not.toBe(first.registryDigest);
      expect(second.updateAvailable).toBe(true);
      const plain = (await (await fetch(`${svc.url}/api/v1/engines/versioned`)).json()) as EngineJson;
      expect(plain.updateAvailable).toBeNull();
    } finally {
      const workerId = svc.workerId;
      await svc.stop();
      expect(await leftoversOf(workerId)).toEqual({ containers: [], volumes: [] });
    }
  }, 120_000);
});
