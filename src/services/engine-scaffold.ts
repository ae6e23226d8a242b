import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isEngineName } from '../domain/index.js';

export interface ScaffoldOptions {
  /** Directory the engine's folder is made in (default `engines`). */
  readonly enginesDir: string;
  /** engines.json to add the entry to; made when absent. */
  readonly enginesFile: string;
  /** Registry host the image is tagged for, e.g. `localhost:5000`. */
  readonly registry: string;
}

export interface ScaffoldResult {
  readonly dir: string;
  readonly files: string[];
  readonly image: string;
}

const dockerfile = (name: string) => `# Menagerie engine: ${name}
# Build:  menagerie engine build ${name}    (docker build -t <image> engines/${name})
FROM debian:bookworm-slim
# Add the analyzer's packages here, e.g.:
# RUN apt-get update && apt-get install -y --no-install-recommends file && rm -rf /var/lib/apt/lists/*
COPY run.sh /engine/run.sh
RUN chmod 0755 /engine/run.sh \\
 && mkdir -p /var/data && chown 1000:1000 /var/data
ENV HOME=/tmp LANG=C.UTF-8
USER 1000:1000
WORKDIR /tmp
CMD ["/engine/run.sh"]
`;

const runScript = `#!/bin/sh
# Reads the input at $MNT/$INPUT and writes the result to $MNT/result (a file,
# or a directory that Menagerie archives). $MNT/summary, when written, is the
# short text shown beside the job's status. The container has no network, a
# read-only root filesystem and a small writable /tmp.
set -eu
MNT=/var/data
INPUT=sample
in="$MNT/$INPUT"

size=$(wc -c <"$in")
lines=$(wc -l <"$in")
first=$(head -n 1 "$in" | cut -c 1-64 | tr -c '[:print:]\\n' '.')

printf '{"size": %s, "lines": %s}\\n' "$size" "$lines" >"$MNT/result"
printf 'size: %s bytes\\nstarts with: %s\\n' "$size" "$first" >"$MNT/summary"
`;

const testScript = (name: string) => `#!/bin/sh
# Smoke test: builds the engine, submits the sample to a running Menagerie and
# waits for it. Run from the repository root with the server up (npm start).
set -eu
menagerie engine build ${name}
menagerie submit ${name} engines/${name}/sample.txt --wait
`;

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Scaffolds an engine: Dockerfile, run script, a sample input, a smoke test
 * and its engines.json entry (hardened defaults; user 1000, no network).
 * @throws Error when the name is invalid or the engine exists already.
 */
export async function scaffoldEngine(name: string, options: ScaffoldOptions): Promise<ScaffoldResult> {
  if (!isEngineName(name)) {
    throw new Error(`"${name}" is not a valid engine name: use lowercase letters, digits, ".", "_" or "-"`);
  }
  const dir = path.join(options.enginesDir, name);
  if (await exists(dir)) throw new Error(`${dir} exists already; pick another name or remove it`);
  let config: { engines: { name: string }[] } = { engines: [] };
  if (await exists(options.enginesFile)) {
    config = JSON.parse(await readFile(options.enginesFile, 'utf8')) as typeof config;
    if (config.engines.some((e) => e.name === name)) {
      throw new Error(`${options.enginesFile} has an engine named "${name}" already`);
    }
  }
  const image = `${options.registry}/${name}:stable`;
  await mkdir(dir, { recursive: true });
  const files = {
    Dockerfile: dockerfile(name),
    'run.sh': runScript,
    'sample.txt': `A sample input for the ${name} engine.\n`,
    'test.sh': testScript(name),
  };
  for (const [file, text] of Object.entries(files)) {
    await writeFile(path.join(dir, file), text, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
  }
  config.engines.push({
    name,
    workers: 1,
    image,
    runflags: ['--network', 'none', '--read-only'],
    cmd: '/engine/run.sh',
    mountpoint: '/var/data',
    sizelimit: 50_000_000,
    inputfilename: 'sample',
    user: 1000,
    timeout: 60,
  } as { name: string });
  await mkdir(path.dirname(options.enginesFile), { recursive: true });
  await writeFile(options.enginesFile, JSON.stringify(config, null, 2) + '\n');
  return { dir, files: Object.keys(files).map((f) => path.join(dir, f)), image };
}
