"""`exante mcp`: a Model Context Protocol server over stdio, on the official `mcp` SDK
(install ``exante[mcp]``; imported only when the server starts).

It is built on the SDK's low-level `Server` so that each tool publishes exactly the JSON
Schemas exante documents: `inputSchema` from `exante.agent.tools.TOOLS`, `outputSchema` from
``exante/agent/schemas/<verb>.json``. A successful call returns the verb's `--json` record as
`structuredContent` (and the same JSON as text); a refused or invalid call returns
``isError: true`` with an `exante.error/1` record and the CLI's one-line message. Calls run
one at a time in a worker thread, so the protocol loop never blocks on a sweep or a report.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ExanteError, InputError, require
from . import records
from .tools import TOOLS, Registry

INSTRUCTIONS = (
    "exante seals an experiment plan before any result exists, runs only the registered runs, "
    "and decides the verdict mechanically from the registered rules. Flow: init -> (edit the "
    "plan and its trial) -> lock -> run (returns at once) -> status until sweep.running is "
    "false -> decide -> report -> rollup/audit. A bet module (init with template bet): "
    "lock -> bet, which returns its verdict when the run has ended. Never edit a sealed plan "
    "or a ledger: a changed byte is refused (PREREG TAMPERED); a deliberate change goes through amend with "
    "the reason and what you had seen. A killed plan cannot be re-run without a new lock.")


def build_server(root: Path):
    """The SDK `Server` for the registry at `root` (and the `Registry` it serves)."""
    require("mcp", "mcp")
    import anyio
    import jsonschema
    import mcp_types as types
    from mcp.server.lowlevel import Server

    registry = Registry(root)
    specs = {spec.name: spec for spec in TOOLS}
    validators = {spec.name: jsonschema.Draft202012Validator(spec.input_schema) for spec in TOOLS}
    tools = [types.Tool(name=spec.name, description=spec.description,
                        input_schema=spec.input_schema, output_schema=records.load_schema(spec.output),
                        annotations=types.ToolAnnotations(read_only_hint=spec.read_only,
                                                          destructive_hint=False,
                                                          open_world_hint=False))
             for spec in TOOLS]
    one_at_a_time = anyio.Lock()

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx, params) -> types.CallToolResult:
        name, arguments = params.name, dict(params.arguments or {})
        try:
            if name not in specs:
                raise InputError(f"unknown tool {name!r}; the tools are {', '.join(specs)}")
            errors = sorted(validators[name].iter_errors(arguments), key=lambda e: list(e.path))
            if errors:
                where = "/".join(map(str, errors[0].path)) or "arguments"
                raise InputError(f"{name}: {where}: {errors[0].message}")
            async with one_at_a_time:
                record = await anyio.to_thread.run_sync(registry.call, name, arguments)
        except ExanteError as exc:
            return _error(types, exc, exc.exit_code)
        except Exception as exc:  # a bug, not a refusal: say so without a traceback on the wire
            return _error(types, exc, 1)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=records.dumps(record))],
            structured_content=record)

    server = Server("exante", version=_version(), instructions=INSTRUCTIONS,
                    on_list_tools=list_tools, on_call_tool=call_tool)
    return server, registry


def _error(types, exc: BaseException, code: int):
    message = str(exc) if code != 2 else f"error: {exc}"
    record = records.envelope("error", {"error": message, "exit_code": code,
                                        "kind": type(exc).__name__})
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)],
                                structured_content=record, is_error=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("exante")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def serve(root: Path) -> None:
    """Serve the registry at `root` over stdin/stdout until the client closes the pipe."""
    server, _ = build_server(root)
    import anyio
    from mcp.server.stdio import stdio_server

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)

