/** Where each kind of bytes lives in the blob store. Results and logs are per attempt, so a rerun never mixes with an earlier one. */
export const blobKeys = {
  input: (sha256: string) => `inputs/${sha256.slice(0, 2)}/${sha256}`,
  result: (jobId: string, attempt: number) => `results/${jobId}-${attempt}`,
  stdout: (jobId: string, attempt: number) => `logs/${jobId}-${attempt}.stdout`,
  stderr: (jobId: string, attempt: number) => `logs/${jobId}-${attempt}.stderr`,
};
