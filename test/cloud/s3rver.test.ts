/**
 * The cloud contract on an embedded s3rver. Always runs. s3rver is a mock
 * (no secret checks, no conditional writes, no upload listing): the tests
 * needing those report as skipped here and run on a real server (env.test.ts).
 */
import { cloudContract } from "./contract.js";
import { s3rverTarget } from "../helpers/s3servers.js";

cloudContract("an embedded s3rver", s3rverTarget);
