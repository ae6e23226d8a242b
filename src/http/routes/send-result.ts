import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import { principalOf } from '../plugins/auth.js';

const contentTypes = {
  archive: 'application/gzip',
  file: 'application/octet-stream',
  stdout: 'application/octet-stream',
};
const suffixes = { archive: '.tar.gz', file: '', stdout: '.stdout' };

/** Streams a job's result with a download name. */
export async function sendResult(
  ctx: AppContext,
  request: FastifyRequest,
  id: string,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { job, stream, size } = await ctx.service.openResult(id, principalOf(request));
  const kind = job.result?.kind ?? 'file';
  const name = `${job.engine}-${job.id}-result${suffixes[kind]}`;
  return reply
    .header('content-type', contentTypes[kind])
    .header('content-length', size)
    .header('content-disposition', `attachment; filename="${name}"`)
    .header('x-content-type-options', 'nosniff')
    .send(stream);
}
