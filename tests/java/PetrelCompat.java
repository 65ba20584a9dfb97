// Drives a RocketMQ NameServer+broker (Petrel or the Java reference) with the unchanged
// Apache RocketMQ 4.9.8 Java client and prints one PASS/FAIL line per feature.
// Usage: java -cp CLASSPATH:. PetrelCompat NAMESRV [test ...]   (no test names: all)
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.rocketmq.client.consumer.*;
import org.apache.rocketmq.client.consumer.listener.*;
import org.apache.rocketmq.client.producer.*;
import org.apache.rocketmq.client.exception.*;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.message.*;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.protocol.heartbeat.MessageModel;

public class PetrelCompat {
    static String ns;
    static final String RUN = Long.toString(System.currentTimeMillis() % 100000000L, 36);
    static int fails = 0;

    interface T { String run() throws Exception; }

    static void check(boolean c, String what) { if (!c) throw new IllegalStateException(what); }

    static DefaultMQProducer producer(String group) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer(group);
        p.setNamesrvAddr(ns);
        p.setSendMsgTimeout(5000);
        p.start();
        return p;
    }

    static DefaultMQPushConsumer push(String group, String topic, String sub, MessageModel model) throws Exception {
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
        c.setNamesrvAddr(ns);
        c.setMessageModel(model);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, sub);
        c.setPullInterval(0);
        return c;
    }

    static Message msg(String topic, String tag, String key, String body) {
        return new Message(topic, tag, key, body.getBytes());
    }

    // topic pre-creation via the producer's auto-create: send one warm-up message to each topic
    static boolean waitFor(CountDownLatch l, int sec) throws InterruptedException { return l.await(sec, TimeUnit.SECONDS); }

    static String tSync() throws Exception {
        String topic = "jt_sync_" + RUN;
        DefaultMQProducer p = producer("pg_sync_" + RUN);
        try {
            Message m = msg(topic, "TagA", "key-sync-1", "hello sync");
            m.putUserProperty("color", "red");
            SendResult r = p.send(m);
            check(r.getSendStatus() == SendStatus.SEND_OK, "status " + r.getSendStatus());
            check(r.getMsgId() != null && r.getOffsetMsgId() != null, "ids");
            MessageExt v = null;  // by unique key: the index is built asynchronously (Java broker)
            for (long end = System.currentTimeMillis() + 10000; v == null; Thread.sleep(300)) {
                try { v = p.viewMessage(topic, r.getMsgId()); }
                catch (MQClientException e) { if (System.currentTimeMillis() > end) throw e; }
            }
            check(v != null && "hello sync".equals(new String(v.getBody())), "viewMessage(uniq) body");
            check("red".equals(v.getUserProperty("color")), "viewMessage property");
            check("TagA".equals(v.getTags()) && "key-sync-1".equals(v.getKeys()), "tags/keys");
            MessageExt v2 = p.viewMessage(r.getOffsetMsgId());
            check(v2 != null && v2.getQueueOffset() == r.getQueueOffset(), "viewMessage(offsetMsgId)");
            return "msgId=" + r.getMsgId() + " q=" + r.getMessageQueue().getQueueId() + " off=" + r.getQueueOffset();
        } finally { p.shutdown(); }
    }

    static String tAsyncOnewayBatch() throws Exception {
        String topic = "jt_aob_" + RUN;
        DefaultMQProducer p = producer("pg_aob_" + RUN);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            int n = 50;
            CountDownLatch l = new CountDownLatch(n);
            AtomicInteger ok = new AtomicInteger();
            for (int i = 0; i < n; i++)
                p.send(msg(topic, "TagB", "ka" + i, "async " + i), new SendCallback() {
                    public void onSuccess(SendResult r) { if (r.getSendStatus() == SendStatus.SEND_OK) ok.incrementAndGet(); l.countDown(); }
                    public void onException(Throwable e) { System.err.println("async: " + e); l.countDown(); }
                });
            check(waitFor(l, 20) && ok.get() == n, "async ok=" + ok.get());
            for (int i = 0; i < 10; i++) p.sendOneway(msg(topic, "TagC", "ko" + i, "oneway " + i));
            List<Message> batch = new ArrayList<>();
            for (int i = 0; i < 20; i++) batch.add(msg(topic, "TagD", "kb" + i, "batch " + i));
            SendResult br = p.send(batch);
            check(br.getSendStatus() == SendStatus.SEND_OK, "batch status");
            check(br.getMsgId().split(",").length == 20, "batch ids " + br.getMsgId());
            // read everything back with a lite pull consumer
            DefaultLitePullConsumer c = new DefaultLitePullConsumer("cg_aob_" + RUN);
            c.setNamesrvAddr(ns);
            c.setAutoCommit(true);
            c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            c.subscribe(topic, "*");
            c.start();
            Map<String, Integer> tags = new HashMap<>();
            long end = System.currentTimeMillis() + 20000;
            int got = 0;
            while (got < 81 && System.currentTimeMillis() < end) {
                for (MessageExt m : c.poll(1000)) { got++; tags.merge(m.getTags(), 1, Integer::sum); }
            }
            c.shutdown();
            check(got == 81, "got " + got + " " + tags);
            check(tags.get("TagB") == 50 && tags.get("TagC") == 10 && tags.get("TagD") == 20, "tags " + tags);
            return "async 50, oneway 10, batch 20 read back via LitePull subscribe";
        } finally { p.shutdown(); }
    }

    static String tOrdered() throws Exception {
        String topic = "jt_ord_" + RUN;
        DefaultMQProducer p = producer("pg_ord_" + RUN);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            MessageQueueSelector sel = (mqs, m, arg) -> mqs.get(((Integer) arg) % mqs.size());
            int orders = 4, steps = 25;
            for (int s = 0; s < steps; s++)
                for (int o = 0; o < orders; o++) {
                    SendResult r = p.send(msg(topic, "ord", "o" + o, o + ":" + s), sel, o);
                    check(r.getSendStatus() == SendStatus.SEND_OK, "ordered send");
                }
            DefaultMQPushConsumer c = push("cg_ord_" + RUN, topic, "ord", MessageModel.CLUSTERING);
            Map<Integer, Integer> next = new ConcurrentHashMap<>();
            AtomicInteger bad = new AtomicInteger(), got = new AtomicInteger();
            CountDownLatch l = new CountDownLatch(orders * steps);
            AtomicBoolean suspended = new AtomicBoolean();
            c.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    String[] a = new String(m.getBody()).split(":");
                    int o = Integer.parseInt(a[0]), s = Integer.parseInt(a[1]);
                    // one SUSPEND on step 3 of order 0: must be redelivered in order
                    if (o == 0 && s == 3 && suspended.compareAndSet(false, true)) return ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT;
                    int exp = next.getOrDefault(o, 0);
                    if (s != exp) bad.incrementAndGet(); else { next.put(o, s + 1); l.countDown(); }
                    got.incrementAndGet();
                }
                return ConsumeOrderlyStatus.SUCCESS;
            });
            c.start();
            boolean done = waitFor(l, 40);
            c.shutdown();
            check(done && bad.get() == 0, "orderly done=" + done + " bad=" + bad.get() + " next=" + next);
            return "4 orders x 25 steps in order (LOCK_BATCH_MQ + SUSPEND redelivery)";
        } finally { p.shutdown(); }
    }

    static String tConcurrentRetryDlq() throws Exception {
        String topic = "jt_retry_" + RUN;
        String group = "cg_retry_" + RUN;
        DefaultMQProducer p = producer("pg_retry_" + RUN);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            for (int i = 0; i < 10; i++) p.send(msg(topic, "r", "kr" + i, "retry " + i));
            p.send(msg(topic, "dlq", "kdlq", "to dlq"));
            DefaultMQPushConsumer c = push(group, topic, "r || dlq", MessageModel.CLUSTERING);
            c.setMaxReconsumeTimes(2);
            Map<String, Integer> seen = new ConcurrentHashMap<>();
            CountDownLatch l = new CountDownLatch(10);
            CountDownLatch dlqTries = new CountDownLatch(3);
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                ctx.setDelayLevelWhenNextConsume(1);  // 1 s retry
                for (MessageExt m : msgs) {
                    String b = new String(m.getBody());
                    int n = seen.merge(b, 1, Integer::sum);
                    if (b.equals("to dlq")) { dlqTries.countDown(); return ConsumeConcurrentlyStatus.RECONSUME_LATER; }
                    if (n == 1) return ConsumeConcurrentlyStatus.RECONSUME_LATER;
                    if (n == 2) { check(m.getReconsumeTimes() == 1, "reconsumeTimes " + m.getReconsumeTimes()); l.countDown(); }
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.setConsumeMessageBatchMaxSize(1);
            c.start();
            boolean ok = waitFor(l, 40);
            boolean dlqOk = waitFor(dlqTries, 40);
            c.shutdown();
            check(ok, "retries " + seen);
            check(dlqOk, "dlq tries " + seen.get("to dlq"));
            // DLQ topic must hold the message
            DefaultLitePullConsumer d = new DefaultLitePullConsumer("cg_dlqread_" + RUN);
            d.setNamesrvAddr(ns);
            d.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            long end = System.currentTimeMillis() + 20000;
            MessageExt found = null;
            d.start();
            String dlqTopic = MixAll.getDLQTopic(group);
            while (found == null && System.currentTimeMillis() < end) {
                try {
                    Collection<MessageQueue> mqs = d.fetchMessageQueues(dlqTopic);
                    d.assign(mqs);
                    d.seekToBegin(mqs.iterator().next());
                    for (MessageExt m : d.poll(1000)) if (new String(m.getBody()).equals("to dlq")) found = m;
                } catch (Exception e) { Thread.sleep(500); }
            }
            d.shutdown();
            check(found != null, "message not in " + dlqTopic);
            return "10 msgs RECONSUME_LATER once then OK (reconsumeTimes=1); 1 msg to " + dlqTopic + " after " + seen.get("to dlq") + " tries";
        } finally { p.shutdown(); }
    }

    static String tBroadcast() throws Exception {
        String topic = "jt_bc_" + RUN, group = "cg_bc_" + RUN;
        DefaultMQProducer p = producer("pg_bc_" + RUN);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            CountDownLatch l = new CountDownLatch(20);
            List<DefaultMQPushConsumer> cs = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                DefaultMQPushConsumer c = push(group, topic, "bc", MessageModel.BROADCASTING);
                c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
                c.setInstanceName("bc" + i);
                c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                    for (MessageExt m : msgs) l.countDown();
                    return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
                });
                c.start();
                cs.add(c);
            }
            Thread.sleep(3000);  // let both rebalance to all queues before sending
            for (int i = 0; i < 10; i++) p.send(msg(topic, "bc", "kbc" + i, "bc " + i));
            boolean ok = waitFor(l, 30);
            for (DefaultMQPushConsumer c : cs) c.shutdown();
            check(ok, "broadcast left " + l.getCount());
            return "2 consumers each got all 10";
        } finally { p.shutdown(); }
    }

    static String tSql92() throws Exception {
        String topic = "jt_sql_" + RUN;
        DefaultMQProducer p = producer("pg_sql_" + RUN);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            for (int i = 0; i < 10; i++) {
                Message m = msg(topic, i % 2 == 0 ? "even" : "odd", "ks" + i, "sql " + i);
                m.putUserProperty("a", Integer.toString(i));
                p.send(m);
            }
            DefaultMQPushConsumer c = new DefaultMQPushConsumer("cg_sql_" + RUN);
            c.setNamesrvAddr(ns);
            c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            c.subscribe(topic, MessageSelector.bySql("a > 5 AND TAGS = 'odd'"));
            Set<String> got = ConcurrentHashMap.newKeySet();
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) got.add(new String(m.getBody()));
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.start();
            long end = System.currentTimeMillis() + 20000;
            while (got.size() < 2 && System.currentTimeMillis() < end) Thread.sleep(200);
            Thread.sleep(1500);
            c.shutdown();
            check(got.equals(new HashSet<>(Arrays.asList("sql 7", "sql 9"))), "got " + got);
            return "bySql(a > 5 AND TAGS = 'odd') -> " + got;
        } finally { p.shutdown(); }
    }

    static String delayed(String topic, String group, java.util.function.Consumer<Message> set, long minMs) throws Exception {
        DefaultMQProducer p = producer("p" + group);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            DefaultMQPushConsumer c = push(group, topic, "d", MessageModel.CLUSTERING);
            AtomicLong at = new AtomicLong();
            CountDownLatch l = new CountDownLatch(1);
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                at.set(System.currentTimeMillis()); l.countDown();
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.start();
            Thread.sleep(2000);
            Message m = msg(topic, "d", "kd", "delayed");
            set.accept(m);
            long t0 = System.currentTimeMillis();
            SendResult r = p.send(m);
            check(r.getSendStatus() == SendStatus.SEND_OK, "send " + r);
            boolean ok = waitFor(l, 30);
            c.shutdown();
            check(ok, "not delivered");
            long d = at.get() - t0;
            check(d >= minMs, "delivered too early: " + d + " ms");
            return "delivered after " + d + " ms";
        } finally { p.shutdown(); }
    }

    static String tDelayLevel() throws Exception {
        return delayed("jt_delay_" + RUN, "cg_delay_" + RUN, m -> m.setDelayTimeLevel(2), 4000);
    }

    static String tTimer() throws Exception {
        // 5.x timer property; the 4.9.8 client passes it as a user property
        return delayed("jt_timer_" + RUN, "cg_timer_" + RUN, m -> m.putUserProperty("TIMER_DELAY_SEC", "3"), 2500);
    }

    static String tTransaction() throws Exception {
        String topic = "jt_txn_" + RUN;
        TransactionMQProducer p = new TransactionMQProducer("pg_txn_" + RUN);
        p.setNamesrvAddr(ns);
        Map<String, Integer> checks = new ConcurrentHashMap<>();
        p.setTransactionListener(new TransactionListener() {
            public LocalTransactionState executeLocalTransaction(Message m, Object arg) {
                switch ((String) arg) {
                    case "commit": return LocalTransactionState.COMMIT_MESSAGE;
                    case "rollback": return LocalTransactionState.ROLLBACK_MESSAGE;
                    default: return LocalTransactionState.UNKNOW;
                }
            }
            public LocalTransactionState checkLocalTransaction(MessageExt m) {
                checks.merge(new String(m.getBody()), 1, Integer::sum);
                return LocalTransactionState.COMMIT_MESSAGE;
            }
        });
        p.start();
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            DefaultMQPushConsumer c = push("cg_txn_" + RUN, topic, "t", MessageModel.CLUSTERING);
            Set<String> got = ConcurrentHashMap.newKeySet();
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) got.add(new String(m.getBody()));
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.start();
            for (String s : new String[] {"commit", "rollback", "unknown"}) {
                TransactionSendResult r = p.sendMessageInTransaction(msg(topic, "t", "kt" + s, s), s);
                check(r.getSendStatus() == SendStatus.SEND_OK, "txn send " + s);
            }
            long end = System.currentTimeMillis() + 90000;
            while (!(got.contains("commit") && got.contains("unknown")) && System.currentTimeMillis() < end) Thread.sleep(300);
            Thread.sleep(1000);
            c.shutdown();
            check(got.contains("commit"), "commit not delivered " + got);
            check(!got.contains("rollback"), "rollback delivered");
            check(got.contains("unknown") && checks.getOrDefault("unknown", 0) >= 1, "check-back: got=" + got + " checks=" + checks);
            return "commit delivered, rollback not, unknown committed by check-back (" + checks + ")";
        } finally { p.shutdown(); }
    }

    @SuppressWarnings("deprecation")
    static String tPullConsumer() throws Exception {
        String topic = "jt_pull_" + RUN;
        DefaultMQProducer p = producer("pg_pull_" + RUN);
        try {
            for (int i = 0; i < 20; i++) p.send(msg(topic, i % 2 == 0 ? "A" : "B", "kp" + i, "pull " + i));
            DefaultMQPullConsumer c = new DefaultMQPullConsumer("cg_pull_" + RUN);
            c.setNamesrvAddr(ns);
            c.start();
            int got = 0;
            for (MessageQueue mq : c.fetchSubscribeMessageQueues(topic)) {
                long off = c.fetchConsumeOffset(mq, false);
                if (off < 0) off = 0;
                PullResult r = c.pullBlockIfNotFound(mq, "A", off, 32);
                if (r.getPullStatus() == PullStatus.FOUND) {
                    for (MessageExt m : r.getMsgFoundList()) check("A".equals(m.getTags()), "tag filter");
                    got += r.getMsgFoundList().size();
                    c.updateConsumeOffset(mq, r.getNextBeginOffset());
                }
                check(c.maxOffset(mq) >= 0 && c.minOffset(mq) == 0, "min/max");
            }
            c.getOffsetStore().persistAll(c.fetchSubscribeMessageQueues(topic));
            c.shutdown();
            check(got == 10, "pulled " + got);
            // lite pull in assign mode with seek + commitSync
            DefaultLitePullConsumer l = new DefaultLitePullConsumer("cg_lite_" + RUN);
            l.setNamesrvAddr(ns);
            l.setAutoCommit(false);
            l.start();
            List<MessageQueue> mqs = new ArrayList<>(l.fetchMessageQueues(topic));
            l.assign(mqs);
            for (MessageQueue mq : mqs) l.seek(mq, 0);
            int lg = 0;
            long end = System.currentTimeMillis() + 15000;
            while (lg < 20 && System.currentTimeMillis() < end) lg += l.poll(1000).size();
            l.commitSync();
            long committed = 0;
            for (MessageQueue mq : mqs) committed += Math.max(0, l.committed(mq));
            l.shutdown();
            check(lg == 20, "lite got " + lg);
            check(committed == 20, "committed " + committed);
            return "pull tag A = 10/20; lite assign+seek 20, commitSync -> committed 20";
        } finally { p.shutdown(); }
    }

    static String tQueryByKey() throws Exception {
        String topic = "jt_qk_" + RUN;
        DefaultMQProducer p = producer("pg_qk_" + RUN);
        try {
            long begin = System.currentTimeMillis() - 1000;
            p.send(msg(topic, "q", "order-42", "one"));
            p.send(msg(topic, "q", "order-42 order-43", "two"));
            p.send(msg(topic, "q", "other", "three"));
            long end = System.currentTimeMillis() + 15000;
            QueryResult qr = null;
            while (System.currentTimeMillis() < end) {
                qr = p.queryMessage(topic, "order-42", 32, begin, System.currentTimeMillis() + 1000);
                if (qr.getMessageList().size() >= 2) break;
                Thread.sleep(500);
            }
            check(qr != null && qr.getMessageList().size() == 2, "query got " + (qr == null ? null : qr.getMessageList().size()));
            return "queryMessage(order-42) -> 2";
        } finally { p.shutdown(); }
    }

    static String tRequestReply() throws Exception {
        String topic = "jt_rr_" + RUN;
        DefaultMQProducer p = producer("pg_rr_" + RUN);
        DefaultMQProducer replier = producer("pg_rrr_" + RUN);
        try {
            p.send(msg(topic, "warm", "w", "warm"));
            DefaultMQPushConsumer c = push("cg_rr_" + RUN, topic, "rr", MessageModel.CLUSTERING);
            c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                for (MessageExt m : msgs) {
                    try {
                        Message reply = MessageUtil.createReplyMessage(m, ("re:" + new String(m.getBody())).getBytes());
                        replier.send(reply, 3000);
                    } catch (Exception e) { System.err.println("reply: " + e); }
                }
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            c.start();
            Thread.sleep(3000);
            Message r = p.request(msg(topic, "rr", "krr", "ping"), 10000);
            c.shutdown();
            check(r != null && "re:ping".equals(new String(r.getBody())), "reply " + r);
            return "request -> " + new String(r.getBody());
        } finally { p.shutdown(); replier.shutdown(); }
    }

    static String tMisc() throws Exception {
        String topic = "jt_misc_" + RUN;
        DefaultMQProducer p = producer("pg_misc_" + RUN);
        try {
            // a 100 KiB compressible body: the client deflates it (sysFlag bit 0)
            StringBuilder sb = new StringBuilder();
            while (sb.length() < 100 * 1024) sb.append("compress me ").append(sb.length()).append(' ');
            long before = System.currentTimeMillis() - 1;
            SendResult r = p.send(new Message(topic, "big", "kbig", sb.toString().getBytes()));
            check(r.getSendStatus() == SendStatus.SEND_OK, "big send");
            MessageExt v = p.viewMessage(r.getOffsetMsgId());
            check(new String(v.getBody()).equals(sb.toString()), "big body round trip");
            check((v.getSysFlag() & 1) == 1, "stored compressed, sysFlag " + v.getSysFlag());
            for (int i = 0; i < 5; i++) p.send(msg(topic, "t", "kt" + i, "t " + i), r.getMessageQueue());
            MessageQueue mq = r.getMessageQueue();
            check(p.maxOffset(mq) == 6 && p.minOffset(mq) == 0, "max/min " + p.maxOffset(mq) + "/" + p.minOffset(mq));
            long off = p.searchOffset(mq, before);
            check(off == 0, "searchOffset(before) " + off);
            long late = p.searchOffset(mq, System.currentTimeMillis() + 60000);
            // after the last message: 4.9.8's broker answers the nearest message (5), Petrel and
            // 5.x the max offset (6)
            check(late == 6 || late == 5, "searchOffset(future) " + late);
            long early = p.earliestMsgStoreTime(mq);
            check(early >= before && early <= System.currentTimeMillis(), "earliestMsgStoreTime " + early);
            check(p.fetchPublishMessageQueues(topic).size() == 4, "fetchPublishMessageQueues");
            return "100 KiB compressed body ok; min/max/earliestMsgStoreTime ok; searchOffset(past)=0, (future)=" + late;
        } finally { p.shutdown(); }
    }

    static String tTrace() throws Exception {
        String topic = "jt_trace_" + RUN;
        DefaultMQProducer p = new DefaultMQProducer("pg_trace_" + RUN, true);
        p.setNamesrvAddr(ns);
        p.start();
        try {
            SendResult r = p.send(msg(topic, "tr", "ktrace", "traced"));
            check(r.getSendStatus() == SendStatus.SEND_OK, "send");
            DefaultMQPushConsumer c = new DefaultMQPushConsumer("cg_trace_" + RUN, true);
            c.setNamesrvAddr(ns);
            c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            c.subscribe(topic, "*");
            CountDownLatch l = new CountDownLatch(1);
            c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> { l.countDown(); return ConsumeConcurrentlyStatus.CONSUME_SUCCESS; });
            c.start();
            check(waitFor(l, 20), "not consumed");
            DefaultLitePullConsumer t = new DefaultLitePullConsumer("cg_traceread_" + RUN);
            t.setNamesrvAddr(ns);
            t.start();
            Set<String> kinds = new HashSet<>();
            long end = System.currentTimeMillis() + 20000;
            while (kinds.size() < 2 && System.currentTimeMillis() < end) {
                try {
                    Collection<MessageQueue> mqs = t.fetchMessageQueues("RMQ_SYS_TRACE_TOPIC");
                    t.assign(mqs);
                    for (MessageQueue mq : mqs) t.seekToBegin(mq);
                    for (MessageExt m : t.poll(1000)) {
                        String b = new String(m.getBody());
                        if (b.contains(r.getMsgId())) kinds.add(b.substring(0, b.indexOf((char) 1)));
                    }
                } catch (Exception e) { Thread.sleep(1000); }
            }
            t.shutdown();
            c.shutdown();
            check(kinds.contains("Pub") && (kinds.contains("SubBefore") || kinds.contains("SubAfter")), "trace kinds " + kinds);
            return "RMQ_SYS_TRACE_TOPIC holds " + kinds;
        } finally { p.shutdown(); }
    }

    // Keeps a producer (pg_hold) and a push consumer (cg_hold) on TOPIC online for SEC seconds,
    // for mqadmin producerConnection / consumerConnection / consumerProgress.
    static void hold(String topic, int sec) throws Exception {
        DefaultMQProducer p = producer("pg_hold");
        for (int i = 0; i < 10; i++) p.send(msg(topic, "h", "khold" + i, "hold " + i));
        DefaultMQPushConsumer c = push("cg_hold", topic, "*", MessageModel.CLUSTERING);
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> ConsumeConcurrentlyStatus.CONSUME_SUCCESS);
        c.start();
        System.out.println("HOLDING");
        Thread.sleep(sec * 1000L);
        c.shutdown();
        p.shutdown();
    }

    public static void main(String[] args) throws Exception {
        ns = args[0];
        if (args.length == 4 && args[1].equals("hold")) { hold(args[2], Integer.parseInt(args[3])); System.exit(0); }
        LinkedHashMap<String, T> all = new LinkedHashMap<>();
        all.put("sync", PetrelCompat::tSync);
        all.put("async-oneway-batch", PetrelCompat::tAsyncOnewayBatch);
        all.put("ordered", PetrelCompat::tOrdered);
        all.put("retry-dlq", PetrelCompat::tConcurrentRetryDlq);
        all.put("broadcast", PetrelCompat::tBroadcast);
        all.put("sql92", PetrelCompat::tSql92);
        all.put("delay-level", PetrelCompat::tDelayLevel);
        all.put("timer", PetrelCompat::tTimer);
        all.put("transaction", PetrelCompat::tTransaction);
        all.put("pull", PetrelCompat::tPullConsumer);
        all.put("query-key", PetrelCompat::tQueryByKey);
        all.put("request-reply", PetrelCompat::tRequestReply);
        all.put("misc", PetrelCompat::tMisc);
        all.put("trace", PetrelCompat::tTrace);
        List<String> which = args.length > 1 ? Arrays.asList(args).subList(1, args.length) : new ArrayList<>(all.keySet());
        for (String name : which) {
            long t0 = System.currentTimeMillis();
            try {
                String note = all.get(name).run();
                System.out.printf("PASS %-20s %5d ms  %s%n", name, System.currentTimeMillis() - t0, note);
            } catch (Throwable e) {
                fails++;
                System.out.printf("FAIL %-20s %5d ms  %s%n", name, System.currentTimeMillis() - t0, e);
            }
        }
        System.exit(fails == 0 ? 0 : 1);
    }
}
