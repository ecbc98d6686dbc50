/**
 * `riskguard instances add|list|remove`.
 *
 * `add` registers a terminal folder on this host (`--host`, default the machine name); the
 * bridge base port is allocated without collision per host when `--port` is not given (each
 * instance uses `port` and `port + 1`).
 *
 * @module
 */
import type { Command } from "commander";
import { RiskGuardError } from "../shared/errors.ts";
import { withStore } from "../store/mod.ts";
import { type CliContext, startCommand } from "./context.ts";
import { formatAge, renderTable } from "./status.ts";

/** Adds the `instances` command group. */
export function registerInstances(program: Command, ctx: CliContext): void {
  const instances = program.command("instances").description("manage MT5 terminals (instances)");
  instances.command("add").description("register a terminal folder on this host")
    .requiredOption("--path <folder>", "terminal folder, or sim:<scenario> for the simulator")
    .option("--port <number>", "bridge base port (default: next free one on this host)")
    .option(
      "--symbol <name>",
      "chart symbol the EA is attached to at startup (default EURUSD; e.g. EURUSD.m)",
    )
    .option("--json", "print the stored instance as JSON")
    .action(
      async (
        options: { path: string; port?: string; symbol?: string; json?: boolean },
        command: Command,
      ) => {
        const config = await startCommand(ctx, command);
        let port: number | undefined;
        if (options.port !== undefined) {
          port = Number(options.port);
          if (!/^\d+$/.test(options.port.trim()) || port < 1024 || port > 65_534) {
            throw new RiskGuardError(
              "INPUT_INVALID",
              `Invalid --port ${JSON.stringify(options.port)}: an integer from 1024 to 65534`,
            );
          }
        }
        const instance = await withStore(
          config.store,
          { db: config.db },
          (store) =>
            store.addInstance({
              path: options.path,
              host: config.host,
              ...(port === undefined ? {} : { port }),
              ...(options.symbol === undefined ? {} : { symbol: options.symbol }),
            }),
        ).catch(conflictIsInput);
        if (options.json === true) {
          ctx.stdout(`${JSON.stringify(instance, null, 2)}\n`);
          return;
        }
        ctx.stdout(
          `Added instance ${instance._id}: ${instance.path} on host ${instance.host}, ports ${instance.port}-${
            instance.port + 1
          }\n`,
        );
      },
    );

  instances.command("list").description("list terminals")
    .option("--json", "print JSON")
    .option("--this-host", "only the terminals of this host")
    .action(async (options: { json?: boolean; thisHost?: boolean }, command: Command) => {
      const config = await startCommand(ctx, command);
      const list = await withStore(
        config.store,
        { db: config.db },
        (store) => store.listInstances(options.thisHost === true ? { host: config.host } : {}),
      );
      if (options.json === true) {
        ctx.stdout(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        ctx.stdout("No instances. Add one with `riskguard instances add --path <folder>`.\n");
        return;
      }
      const now = Date.now();
      ctx.stdout(renderTable(
        ["id", "host", "port", "path", "status", "element", "pid", "last ping"],
        list.map((instance) => [
          instance._id,
          instance.host,
          String(instance.port),
          instance.path,
          instance.status,
          instance.element_id ?? "-",
          instance.pid === null ? "-" : String(instance.pid),
          formatAge(
            instance.last_ping === null
              ? null
              : Math.max(0, Math.round((now - instance.last_ping) / 1000)),
          ),
        ]),
        [false, false, true, false, false, false, true, true],
      ));
    });

  instances.command("remove <id>").description("remove a terminal")
    .option("--force", "also remove an OCCUPIED terminal")
    .action(async (id: string, options: { force?: boolean }, command: Command) => {
      const config = await startCommand(ctx, command);
      const removed = await withStore(
        config.store,
        { db: config.db },
        (store) => store.removeInstance(id, { force: options.force === true }),
      ).catch(conflictIsInput);
      if (!removed) throw new RiskGuardError("NOT_FOUND", `No instance with id ${id}`);
      ctx.stdout(`Removed instance ${id}\n`);
    });
}

/** A conflict with what is stored (port taken, terminal busy) is the user's input: exit code 2. */
function conflictIsInput(error: unknown): never {
  if (error instanceof RiskGuardError && error.code === "STORE_CONFLICT") {
    throw new RiskGuardError("INPUT_INVALID", error.message, { cause: error });
  }
  throw error;
}
