// `gsnap serve`: runs one storage system until SIGTERM or SIGINT, then stops cleanly (exit 0).

import type { Command } from "commander";
import {
  dropUndefined,
  readConfigFile,
  resolveConfig,
  type ServeSettings,
} from "../daemon/config.js";
import { environmentSecrets, secretFlagWarnings } from "../daemon/secrets-config.js";
import { addChunksOptions } from "./chunks-options.js";
import { addLimitsOptions } from "./limits-options.js";

interface ServeFlags extends ServeSettings {
  config?: string;
}

export function addServeCommand(program: Command): void {
  const serve = program.command("serve");
  addChunksOptions(serve)
    .description("Run a storage system: NBD host interface, HTTP API and dashboard")
    .option("--config <file>", "a JSON file with any of the keys below (flags win)")
    .option("--data <dir>", "data dir (default ./gsnap-data)")
    .option(
      "--serial <serial>",
      "serial number, 1-10 of 0-9 A-Z (default: generated once, kept in the data dir)",
    )
    .option("--ssid <ssids>", "subsystem ids, comma-separated (default 01A0)")
    .option("--api <host:port>", "API listen address (default 127.0.0.1:8480)")
    .option("--nbd <host:port>", "NBD listen address (default 127.0.0.1:10809)")
    .option(
      "--nbd-tls <mode>",
      "NBD over TLS: off, on (offered, plain served too) or require (nothing served before TLS) (default off)",
    )
    .option(
      "--nbd-tls-psk <file>",
      "pre-shared keys of NBD TLS clients, IDENTITY:HEXKEY lines (psktool)",
    )
    .option("--nbd-tls-cert <file>", "PEM certificate of NBD TLS (with --nbd-tls-key)")
    .option("--nbd-tls-key <file>", "PEM key of --nbd-tls-cert")
    .option("--nbd-tls-ca <file>", "PEM CA: NBD TLS clients must present a certificate it signed")
    .option("--link <host:port>", "peer link listen address (default 127.0.0.1:8481)")
    .option(
      "--link-secret <secret>",
      "shared secret of peer links; without it no link listener and no paths",
    )
    .option(
      "--link-secret-file <file>",
      "read the link secret from a file (kept off the command line, which ps shows)",
    )
    .option(
      "--link-peer <serial:file>",
      "a peer's own link secret, read from a file; repeat for each peer (a peer named here proves its serial with this secret only)",
      (value: string, list: string[] = []) => [...list, value],
    )
    .option(
      "--link-peers <file>",
      "a file of SERIAL:SECRET lines, one per peer (# comments); as --link-peer",
    )
    .option(
      "--reservation-timeout <seconds>",
      "release a peer's GSC reservations after this long without a request of its job (default 3600)",
    )
    .option("--link-cert <file>", "PEM certificate for peer links over TLS (with --link-key)")
    .option("--link-key <file>", "PEM key of --link-cert")
    .option("--link-ca <file>", "PEM CA that outgoing TLS links trust (default: the system's)")
    .option("--token <token>", "API bearer token (default: generated once, kept in the data dir)")
    .option("--token-file <file>", "read the API token from a file (kept off the command line)")
    .option(
      "--sync-timeout <ms>",
      "how long a sync pair's host write waits for the secondary before the pair suspends (default 5000)",
    )
    .option(
      "--no-auto-resume",
      "keep pairs suspended after a restart or a link failure until pair resume (default: they resume once the path is up)",
    )
    .option(
      "--journal-mib <mib>",
      "MiB of write-back journal for small host writes; writes wait for merges when it is full (default 128)",
    )
    .option(
      "--space-reserve-mib <mib>",
      "space kept free in the data dir for the collector on a full disk, 0 for none (default 64)",
    );
  addLimitsOptions(serve)
    .option(
      "--log-level <level>",
      "fatal, error, warn, info, debug, trace or silent (default info)",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  gsnap serve\n  gsnap serve --data /srv/gsnap --ssid 01A0,01A1 --nbd 0.0.0.0:10809\n  gsnap serve --config /etc/gsnap.json\n  gsnap serve --nbd 0.0.0.0:10809 --nbd-tls require --nbd-tls-psk /etc/gsnap/nbd-keys.psk\n  gsnap serve --serial 0000000001 --ssid 01A0 --link 0.0.0.0:8481 --link-secret s3cret\n  gsnap serve --chunks s3://gsnap-chunks/system1 --s3-endpoint http://rgw.example:7480\n",
    )
    .action(async (flags: ServeFlags, command: Command) => {
      // --api and --token are also global options of the CLI; here they configure the server.
      const globals = command.optsWithGlobals<ServeFlags>();
      const fromFlags: ServeSettings = {
        ...flags,
        api: flags.api ?? globals.api,
        token: flags.token ?? globals.token,
        // commander makes a --no- flag true when it is absent: only its presence overrides the file.
        autoResume: flags.autoResume === false ? false : undefined,
      };
      delete (fromFlags as ServeFlags).config;
      const fromFile = flags.config === undefined ? {} : readConfigFile(flags.config);
      const given = { ...fromFile, ...dropUndefined(fromFlags) };
      const config = resolveConfig(fromFile, {
        ...fromFlags,
        ...environmentSecrets(process.env, given),
      });
      // Loaded here, not at the top: other commands start faster without the server's modules.
      const { createLogger, describeSystem, startSystem } = await import("../daemon/serve.js");
      // Volumes' data, the catalog, the token and the job and pair records are the system's own:
      // every file and directory it makes is for its user alone (0600, 0700).
      process.umask(0o077);
      const logger = createLogger(config.logLevel);
      for (const warning of secretFlagWarnings({
        token: fromFlags.token,
        linkSecret: fromFlags.linkSecret,
      })) {
        logger.warn(warning);
      }
      const system = await startSystem(config, logger);
      // The signal handlers go in before the banner: whoever waits for the banner (a script, a
      // test) may send SIGTERM the moment it reads it, and without a handler that kills the
      // process on the spot instead of stopping it cleanly.
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "stopping");
          system.stop().then(resolve, (error) => {
            logger.error({ err: error }, "stop failed");
            process.exitCode = 1;
            resolve();
          });
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      process.stdout.write(describeSystem(system));
      logger.info(
        {
          serial: system.serial,
          api: system.api,
          nbd: system.nbd,
          link: system.link,
          chunks: system.chunks,
        },
        "storage system started",
      );
      await stopped;
      logger.info("stopped");
    });
}
