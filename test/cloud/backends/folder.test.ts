/** The backend contract on the folder backend (`file:///` endpoints). Always runs. */
import { folderTarget } from "../../helpers/s3servers.js";
import { backendContract } from "./backendContract.js";

backendContract("the folder backend", folderTarget);
