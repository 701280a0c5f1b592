#!/usr/bin/env python3
"""Drive keybroker-mcp with the official MCP Python SDK, one step at a time.

The e2e suite (tests/tests/e2e/mcp.rs) runs this in the clients venv
(localstack/install.sh) and talks to it over stdin/stdout, one JSON object a
line, so that it can change the world (disable a customer's key) between two
tool calls of the same MCP session:

    {"op": "list_tools"}                         -> {"tools": [...]}
    {"op": "call", "name": N, "arguments": {..}} -> {"isError", "structuredContent", "text"}
                                                    or {"protocol_error": {"code", "message"}}
    {"op": "notifications"}                      -> {"notifications": [...]} (all so far)
    {"op": "quit"}                               -> {"bye": true}

The first line it writes is {"ready": true, "server": ..., "instructions": ...}
after the MCP handshake. Transports:

    mcp_driver.py stdio ERRLOG SERVER_BINARY [ARGS...]   (spawns the server; its
                                                          stderr goes to ERRLOG)
    mcp_driver.py http URL [BEARER_TOKEN]
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

notifications: list[dict] = []


async def on_message(message) -> None:
    if isinstance(message, Exception):
        notifications.append({"exception": repr(message)})
    else:
        notifications.append(message.model_dump(mode="json", by_alias=True, exclude_none=True))


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


@asynccontextmanager
async def transport(argv: list[str]):
    kind = argv[0]
    if kind == "stdio":
        errlog_path, command, args = argv[1], argv[2], argv[3:]
        # The whole environment: the server needs the runtime's AWS settings.
        params = StdioServerParameters(command=command, args=args, env=dict(os.environ))
        with open(errlog_path, "w", encoding="utf-8") as errlog:
            async with stdio_client(params, errlog=errlog) as streams:
                yield streams
    elif kind == "http":
        url = argv[1]
        headers = {"Authorization": f"Bearer {argv[2]}"} if len(argv) > 2 else {}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as client:
            async with streamable_http_client(url, http_client=client) as streams:
                yield streams
    else:
        raise SystemExit(f"unknown transport {kind!r}")


async def main(argv: list[str]) -> None:
    async with transport(argv) as (read, write):
        async with ClientSession(read, write, message_handler=on_message) as session:
            init = await session.initialize()
            emit(
                {
                    "ready": True,
                    "server": init.server_info.model_dump(mode="json", exclude_none=True),
                    "instructions": init.instructions,
                }
            )
            while True:
                line = await anyio.to_thread.run_sync(sys.stdin.readline)
                if not line:
                    return
                step = json.loads(line)
                op = step["op"]
                if op == "quit":
                    emit({"bye": True})
                    return
                if op == "notifications":
                    emit({"notifications": notifications})
                elif op == "list_tools":
                    tools = await session.list_tools()
                    emit({"tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools]})
                elif op == "call":
                    try:
                        r = await session.call_tool(step["name"], step.get("arguments"))
                    except MCPError as e:
                        emit({"protocol_error": {"code": e.error.code, "message": e.error.message}})
                        continue
                    emit(
                        {
                            "isError": bool(r.is_error),
                            "structuredContent": r.structured_content,
                            "text": [c.text for c in r.content if getattr(c, "type", None) == "text"],
                        }
                    )
                else:
                    raise SystemExit(f"unknown op {op!r}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
