/** Version of the messages on the bus; a message of another version is rejected, never half-read. */
export const PROTOCOL_VERSION = 2;
