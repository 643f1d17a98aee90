"""The OpenAI API on the wire, shared by the server (`distillab.serving`), the gateway and the HTTP
teacher client: request schemas (`schemas`), response bodies built from generations (`responses`),
error bodies (`errors`) and parsing of what a server answered (`parse`)."""
