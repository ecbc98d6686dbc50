/** The riskguard version, printed by `riskguard --version`. Keep in step with deno.json. */
export const VERSION = "0.1.0";
