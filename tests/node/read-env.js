// Prints, as JSON, what Node's dotenv reads from the .env file named on the command line.
"use strict";
const fs = require("fs");
const dotenv = require("dotenv");

process.stdout.write(JSON.stringify(dotenv.parse(fs.readFileSync(process.argv[2]))));
