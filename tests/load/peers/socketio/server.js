// The reference: a socket.io chat server written the way the classic tutorial
// does it (http server + socket.io, rooms, io.to(room).emit), defaults untouched.
//   node server.js [port]   -> prints "socket.io listening on 127.0.0.1:PORT"
const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || 0);
const server = http.createServer();
const io = new Server(server);

io.on('connection', (socket) => {
  socket.on('join', (room) => {
    socket.join(room);
    socket.emit('joined', room);
    socket.to(room).emit('user joined', { room, id: socket.id });
  });
  socket.on('chat message', (msg) => {
    io.to(msg.room).emit('chat message', msg);
  });
  socket.on('disconnecting', () => {
    for (const room of socket.rooms) {
      if (room !== socket.id) socket.to(room).emit('user left', { room, id: socket.id });
    }
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`socket.io listening on 127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
