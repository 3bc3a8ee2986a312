// Imported first by the agent's entry (src/main.ts), before any package is loaded: see ./lean-modules.
import { installLeanModules } from './lean-modules';

installLeanModules();
