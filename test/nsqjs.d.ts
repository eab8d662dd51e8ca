// nsqjs ships no types; the tests use it as the untyped library users know.
declare module 'nsqjs' {
  const nsq: any
  namespace nsq {
    type Writer = any
    type Reader = any
  }
  export default nsq
}
