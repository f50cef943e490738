/** The backend contract on an embedded s3rver (a mock: no secret checks, no conditional writes, no upload listing). Always runs. */
import { s3rverTarget } from "../../helpers/s3servers.js";
import { backendContract } from "./backendContract.js";

backendContract("an embedded s3rver", s3rverTarget);
