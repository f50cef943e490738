/** `minus80 config [show|path]`: the settings in force (secrets redacted) or the file's path. */
import type { Command } from "commander";
import { configPath, formatConfig, loadConfig } from "../../config/config.js";
import { println } from "../output.js";

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("show the configuration");
  config
    .command("show", { isDefault: true })
    .description("print the settings in force (secrets redacted)")
    .action(() => {
      const c = loadConfig();
      for (const w of c.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stdout.write(formatConfig(c));
    });
  config
    .command("path")
    .description("print the config file's path")
    .action(() => println(configPath()));
}
