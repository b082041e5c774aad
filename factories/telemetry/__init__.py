"""Machine telemetry: a factory's machines keep its free capacity true (docs/telemetry.md).

- `models`: registered machines and every observation they made;
- `messages`: what a message on the wire must look like (MQTT topic and payload);
- `rule`: a machine's contribution to its process's maximum hours in a week;
- `machines`: registering and listing machines;
- `service`: the one observation service both MQTT and OPC UA feed;
- `ingest`: turning received messages into observations, counted (the worker's core);
- `mqtt`, `opcua`: the two ways in.
"""
