"""The project's `.env` files: finding and reading them (`reader`), rewriting them
atomically (`writer`), which definition is in force and which are shadowed
(`resolution`), and whether git would commit one (`gitignore`)."""
