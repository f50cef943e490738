/** The cloud contract on the folder backend (`file:///` endpoints). Always runs. */
import { cloudContract } from "./contract.js";
import { folderTarget } from "../helpers/s3servers.js";

cloudContract("the folder backend", folderTarget);
