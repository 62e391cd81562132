import { z } from 'zod';
import { slurmJob } from '../../proto/catalogue/slurm-ops.js';
import { getJob } from '../slurm/job.js';
import { implement } from './types.js';

export default implement({
  spec: slurmJob,
  limits: z.object({}).strict(),
  async run(params, ctx) {
    return (await getJob(ctx.exec, params.jobId, ctx.signal)).job;
  },
});
