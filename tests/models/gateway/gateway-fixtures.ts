export {
  createHarness,
  GatewayState,
  gateway,
  type Model,
  type ModelRequest,
  ProviderCallError,
} from "../../../src/index.js";
export { retryAfterFrom as retryAfterFromForTest } from "../../../src/models/provider-call-error.js";
