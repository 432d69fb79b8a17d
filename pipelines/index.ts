/** The pipelines this app deploys and runs locally. Add yours here. */
import type { Pipeline } from '../core';
import clickstream from './clickstream';
import iot from './iot';
import orders from './orders';

export const pipelines: readonly Pipeline[] = [clickstream, iot, orders];
