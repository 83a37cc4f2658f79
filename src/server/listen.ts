import type { Server } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { PortcullisError } from '../errors.js';

/** Binds a grpc-js server; a port in use is a clear `listen_failed` error. Returns the bound port. */
export function bindGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err)
        reject(new PortcullisError('listen_failed', `cannot listen for gRPC on ${address}: ${err.message}`));
      else resolve(bound);
    });
  });
}

/** Starts an HTTP server; a port in use is a clear `listen_failed` error. Returns the bound port. */
export function listenHttp(server: Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(
        new PortcullisError(
          'listen_failed',
          `cannot listen for ${what} on ${host}:${port}: ${err.code ?? err.message}`,
        ),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

/** Closes an HTTP server, ending idle keep-alive connections. */
export function closeHttp(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
