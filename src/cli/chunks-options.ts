// The flags that say where a store's chunks live, shared by `gsnap serve` and `gsnap fsck DATA_DIR`
// (a stopped system's store is checked where its chunks are).

import type { Command } from "commander";

export function addChunksOptions(command: Command): Command {
  return command
    .option(
      "--chunks <where>",
      "where chunks live: local (segment files in the data dir) or s3://BUCKET[/PREFIX] (default local)",
    )
    .option(
      "--s3-endpoint <url>",
      "the S3 endpoint, e.g. http://127.0.0.1:7480 (default: AWS_ENDPOINT_URL, else AWS)",
    )
    .option("--s3-region <region>", "the S3 region (default: AWS_REGION, else us-east-1)")
    .option("--s3-access-key <id>", "S3 access key id (default: AWS_ACCESS_KEY_ID)")
    .option("--s3-secret-key <key>", "S3 secret access key (default: AWS_SECRET_ACCESS_KEY)")
    .option("--s3-cache-mib <mib>", "memory for reading chunks back from S3 (default 256)")
    .option(
      "--s3-segment-mib <mib>",
      "segments are staged in DATA/staging and uploaded at this size (default 32)",
    );
}
