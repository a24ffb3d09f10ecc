"""The project's `.env` files: finding yours and reading them (`reader`, `trust`, with
python-dotenv's exact grammar in `grammar`), rewriting them atomically under a lock every
user shares (`writer`, `lock`, with Node's reading in `nodeview`), which definition is in
force and which are shadowed (`resolution`), and whether git would commit one
(`gitignore`)."""
