"""exante for research agents: machine-readable records, the MCP server, the agent skill.

    records      one function per verb that returns its ``--json`` record; the CLI and
                 the MCP tools both print/return exactly these
    schemas/     a JSON Schema per record (``exante.<verb>/1``), documented in
                 docs/json-schemas.md
    skill        ``exante skill``: the SKILL.md an agent follows
    mcp_server   ``exante mcp``: the Model Context Protocol server (extra ``exante[mcp]``)
"""

from .records import envelope, load_schema, schema_names

__all__ = ["envelope", "load_schema", "schema_names"]
