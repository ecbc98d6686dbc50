/**
 * All of a spawned child's output (stdout then stderr), once both streams end.
 *
 * @module
 */
export async function childOutput(child: Deno.ChildProcess): Promise<string> {
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return out + err;
}
