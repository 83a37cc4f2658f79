/** vitest setupFiles: writes each test file's captured output for the suite-wide secret scan. */
import { afterAll } from 'vitest';
import { flushCapture } from './capture.js';

afterAll(() => flushCapture());
