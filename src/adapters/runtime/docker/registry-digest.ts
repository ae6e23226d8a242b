import type Docker from 'dockerode';

/**
 * The digest the image's registry serves under its tag now, asked through the
 * Docker engine (`GET /distribution/<name>/json`, which uses the engine's own
 * registry credentials). Null when the image is pinned by digest, or the
 * registry does not answer.
 */
export async function registryDigest(docker: Docker, image: string): Promise<string | null> {
  if (image.includes('@')) return null;
  try {
    const info = (await docker.getImage(image).distribution({})) as { Descriptor?: { digest?: string } };
    return info.Descriptor?.digest ?? null;
  } catch {
    return null;
  }
}
