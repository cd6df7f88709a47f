/// Modbus acquisition: register maps, request planning, the libmodbus link and the poller.
enum ModbusModule {}
