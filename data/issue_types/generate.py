"""Compose kefu's labelled issue-type set from hand-written fragments.

Run from the repository root::

    python data/issue_types/generate.py

It writes ``data/issue_types/issue_types.csv`` (columns ``text,label``): for
each of the ten issue types and each language (Chinese, English), a fixed
number of customer first messages.  Each message is a hand-written core
sentence with its slots filled (dish, minutes, amount, side item), wrapped in an
optional greeting and closing.  The draw uses a fixed seed, so the file is the
same on every run; it depends on the standard library only.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 7
PER_CLASS_AND_LANGUAGE = 50

SLOTS = {
    "zh": {
        "food": ["麻辣烫", "黄焖鸡米饭", "奶茶", "披萨", "汉堡套餐", "炸鸡", "牛肉面",
                 "寿司", "轻食沙拉", "煲仔饭", "饺子", "烤鱼", "酸菜鱼", "螺蛳粉"],
        "min": ["20", "30", "40", "45", "50", "一个小时", "一个半小时"],
        "amount": ["12.5", "28", "35", "46.8", "59", "88", "120"],
        "item": ["可乐", "米饭", "饮料", "餐具", "酱料", "薯条", "鸡翅", "小菜"],
    },
    "en": {
        "food": ["pizza", "burger meal", "bubble tea", "fried chicken", "ramen",
                 "sushi", "salad", "chicken curry", "burrito", "pad thai",
                 "dumplings", "sandwich", "poke bowl", "fish and chips"],
        "min": ["20", "30", "40", "45", "50", "60", "90"],
        "amount": ["12.50", "18", "23.90", "35", "42", "59.99", "80"],
        "item": ["drink", "rice", "fries", "sauce", "cutlery", "side salad",
                 "garlic bread", "dessert"],
    },
}

OPENERS = {
    "zh": ["", "", "你好，", "您好，", "客服你好，", "在吗？", "人工客服，",
           "麻烦看一下，", "喂，"],
    "en": ["", "", "Hi, ", "Hello, ", "Hey, ", "Hi there, ", "Excuse me, ",
           "Good evening, "],
}

CLOSERS = {
    "zh": ["", "", "", "谢谢", "麻烦尽快处理。", "请帮我处理一下", "怎么回事？",
           "太过分了！", "急！", "在线等"],
    "en": ["", "", "", " Thanks.", " Please help.", " Can you sort this out?",
           " This is really annoying.", " Thank you!", " Any update?"],
}

CORES: dict[str, dict[str, list[str]]] = {
    "late_delivery": {
        "zh": [
            "我的{food}已经超时{min}分钟了还没送到",
            "订单显示预计12点送达，现在都快1点了还没到",
            "外卖怎么还没到，等了{min}了",
            "骑手一直显示在路上，都超时这么久了",
            "点的{food}到现在还没送来，饿死了",
            "为什么我的外卖这么慢，已经过了预计送达时间",
            "配送时间严重超时，什么时候能到？",
            "下单一个多小时了，外卖还没到",
            "地图上骑手半天不动，我的餐什么时候能送到",
            "预计送达时间一直在往后推，到底还要等多久",
            "订单超时了还没送达，能帮我催一下吗",
            "说好30分钟送达，结果等了{min}",
            "午饭点的{food}，现在下午了还没到",
            "我的订单是不是被遗忘了，一直没人送",
            "外卖还没到",
            "我的餐呢？？",
            "超时了",
            "怎么还没送到啊，都{min}分钟了",
            "已经过了送达时间，骑手还没来",
            "等了好久了，饭还没到",
        ],
        "en": [
            "my {food} is {min} minutes late and still not here",
            "the app said delivery by 7:15 and it's almost 8 now",
            "where is my order? I've been waiting {min} minutes",
            "the courier has been 'on the way' forever, my food still hasn't arrived",
            "my order is way past the estimated delivery time",
            "my {food} still hasn't arrived",
            "the delivery time keeps getting pushed back, when will it get here?",
            "I ordered over an hour ago and nothing has arrived yet",
            "the tracking map shows the rider hasn't moved in {min} minutes",
            "can you chase my order? it's really late",
            "still waiting for my food, it was supposed to be here at 12:30",
            "my order seems to be stuck, it's been {min} minutes",
            "how much longer will my {food} take? it's very late",
            "the estimated arrival passed {min} minutes ago",
            "where's my food",
            "order still not here",
            "it's been {min} minutes, where is the delivery?",
            "delivery is super late",
            "my food should have arrived ages ago",
            "why is my order taking so long?",
        ],
    },
    "missing_or_wrong_item": {
        "zh": [
            "我点的{item}没送来，少送了",
            "收到的外卖少了一份{food}",
            "送错餐了，我点的是{food}，送来的不是",
            "商家漏送了{item}",
            "打开袋子发现少了{item}",
            "这不是我的订单，送错了",
            "我点了两份{food}只收到一份",
            "备注了不要香菜，结果送来的全是香菜，做错了",
            "套餐里的{item}没有给",
            "拿到的{food}口味不对，我点的是微辣送来特辣",
            "外卖袋里缺了{item}和餐具",
            "送来的是别人的餐，我的{food}呢",
            "订单里的{item}漏了，麻烦补送",
            "点的大份给的小份，分量不对",
            "少送了一杯{item}",
            "少了一份{item}",
            "送来的东西不对",
            "点的{food}没收到，其他的都到了",
            "缺了一个菜",
            "给错餐了",
        ],
        "en": [
            "my {item} is missing from the order",
            "I received only one {food} but I ordered two",
            "you sent me the wrong order, this isn't my {food}",
            "the restaurant forgot my {item}",
            "I opened the bag and the {item} wasn't there",
            "this isn't my order at all, wrong bag",
            "I ordered a large {food} and got a small one",
            "I asked for no onions and got onions, the order is wrong",
            "the {item} from my combo is missing",
            "got a vegetarian {food} instead of chicken, wrong item",
            "half my order is missing, no {item} and no {food}",
            "someone else's food was delivered to me, where is my {food}?",
            "items missing from my order, please send the {item}",
            "wrong item delivered, I never ordered this",
            "missing {item}",
            "wrong food delivered",
            "the {food} I ordered isn't in the bag",
            "you forgot part of my order",
            "I got someone else's {food}",
            "one item is missing",
        ],
    },
    "food_quality": {
        "zh": [
            "送来的{food}都凉了",
            "{food}里面吃出了头发",
            "这个{food}有股馊味，好像变质了",
            "鸡肉没熟，里面还是生的",
            "饭菜太难吃了，咸得没法吃",
            "{food}里有虫子，太恶心了",
            "汤洒了一袋子，{food}都泡烂了",
            "吃完{food}拉肚子了，食品安全有问题",
            "菜不新鲜，{item}都发黑了",
            "{food}是坨的，根本没法吃",
            "披萨送到全部压扁了，奶酪都粘在盒子上",
            "奶茶是坏的，喝起来是酸的",
            "菜里吃出一块塑料",
            "油太多了，而且是隔夜的菜",
            "饭菜都凉了",
            "{food}不好吃，有点馊",
            "吃出了异物",
            "东西坏了，不能吃",
            "{food}都糊了",
            "太咸了，还有头发",
        ],
        "en": [
            "my {food} arrived completely cold",
            "there was a hair in my {food}",
            "the {food} smells off, I think it's spoiled",
            "the chicken was raw in the middle",
            "the food tasted awful, way too salty to eat",
            "I found a bug in my {food}, disgusting",
            "the soup spilled everywhere and the {food} is soggy",
            "I got sick after eating the {food}",
            "the {item} was stale and the vegetables weren't fresh",
            "the {food} was undercooked",
            "my pizza arrived crushed and the cheese was stuck to the lid",
            "the bubble tea tasted sour, like it had gone bad",
            "there was a piece of plastic in my food",
            "the {food} was greasy and tasted like yesterday's leftovers",
            "food is cold",
            "the {food} tastes bad",
            "found something in my food",
            "the food was burnt",
            "my {food} is soggy and cold",
            "this {food} is inedible",
        ],
    },
    "refund": {
        "zh": [
            "我要退款",
            "申请的退款一直没到账",
            "这单能退钱吗？",
            "退款申请被商家拒绝了，为什么",
            "退款{amount}元什么时候到账",
            "订单取消了但是钱没退回来",
            "我想申请全额退款",
            "退款显示成功了但我银行卡没收到",
            "商家同意退款了，可是一直没退",
            "怎么申请部分退款",
            "退款到哪里了，一个星期了还没收到",
            "东西没法吃，请给我退款",
            "退款进度怎么查",
            "为什么只退了一部分钱，应该退{amount}元",
            "退款",
            "退钱",
            "我要求退款{amount}元",
            "钱什么时候退给我",
            "退款怎么还没到账",
            "能退款吗",
        ],
        "en": [
            "I want a refund",
            "my refund still hasn't come through",
            "can I get my money back for this order?",
            "the restaurant rejected my refund request, why?",
            "when will I get the refund of {amount}?",
            "the order was cancelled but I haven't been refunded",
            "I'd like a full refund please",
            "the app says refunded but nothing is on my card",
            "the shop agreed to refund me but I still haven't got it",
            "how do I ask for a partial refund?",
            "it's been a week and no refund yet",
            "please refund my order, I couldn't eat any of it",
            "how can I check the status of my refund?",
            "you only refunded part of it, I should get {amount} back",
            "refund please",
            "I want my money back",
            "refund {amount} to my card please",
            "when do I get my money back?",
            "still no refund",
            "can you refund this order?",
        ],
    },
    "payment": {
        "zh": [
            "付款的时候被扣了两次钱",
            "支付失败了但是钱扣了",
            "微信支付一直提示支付失败",
            "支付宝付不了款",
            "扣款{amount}元但是订单没有生成",
            "银行卡支付不了，显示交易异常",
            "同一个订单重复扣款了",
            "付款页面一直转圈",
            "为什么实际扣款比订单金额多",
            "绑定的银行卡付款不成功",
            "余额支付显示余额不足但我明明有钱",
            "付款后订单显示未支付",
            "不能用信用卡支付吗",
            "我的账单里多了一笔{amount}元的扣费",
            "扣了两次钱",
            "付不了款",
            "支付一直失败",
            "钱扣了订单没下成功",
            "付款出错了",
            "为什么多扣了我{amount}元",
        ],
        "en": [
            "I was charged twice for the same order",
            "the payment failed but the money was taken",
            "my card keeps getting declined at checkout",
            "I can't pay with Apple Pay",
            "I was charged {amount} but no order was created",
            "the payment page just keeps loading",
            "why was I charged more than the order total?",
            "double charge on my credit card",
            "my order says unpaid but I already paid",
            "there's an extra charge of {amount} on my statement",
            "payment won't go through with PayPal",
            "I got a payment error but my bank shows the charge",
            "can I pay in cash on delivery?",
            "the app took {amount} from my wallet twice",
            "charged twice",
            "payment failed",
            "can't pay",
            "money taken but no order",
            "payment error at checkout",
            "why did you charge me {amount} extra?",
        ],
    },
    "rider_behaviour": {
        "zh": [
            "骑手态度太差了，还骂人",
            "配送员把外卖直接扔在门口就走了",
            "骑手让我自己下楼拿，不肯送上来",
            "送餐员打电话语气很凶",
            "骑手没送到就点了已送达",
            "骑手要求我取消订单",
            "外卖小哥偷吃了我的{food}",
            "骑手因为差评打电话威胁我",
            "配送员把餐放错地方了，也不打电话",
            "骑手抽着烟送餐，很不卫生",
            "送餐员骑车撞到我还不道歉",
            "骑手催我给好评",
            "配送员态度恶劣，我要投诉",
            "骑手加我微信骚扰我",
            "骑手骂人",
            "送餐员态度差",
            "骑手太没礼貌了",
            "骑手不接电话还乱放外卖",
            "骑手把{food}扔在楼下",
            "投诉骑手",
        ],
        "en": [
            "the rider was really rude to me",
            "the courier threw the bag at my door and left",
            "the driver refused to come up and told me to come down",
            "the delivery guy shouted at me on the phone",
            "the rider marked it delivered before he even got here",
            "the courier asked me to cancel the order",
            "I think the rider ate some of my {food}",
            "the driver threatened me after I left a bad rating",
            "the rider left my food at the wrong building and didn't call",
            "the delivery driver was smoking while handing me the food",
            "the courier was aggressive and swore at me",
            "the rider kept pressuring me for a five star review",
            "I want to complain about the delivery driver's behaviour",
            "the rider messaged me afterwards, it was creepy",
            "rude rider",
            "the driver was very unprofessional",
            "courier was rude",
            "the rider left my {food} outside in the rain without telling me",
            "I want to report the courier",
            "the delivery guy was disrespectful",
        ],
    },
    "order_change": {
        "zh": [
            "我想取消订单",
            "地址填错了，能改一下收货地址吗",
            "能帮我修改一下电话号码吗",
            "刚下的单能加一份{item}吗",
            "想把送达时间改到晚上7点",
            "订单还没出餐能取消吗",
            "点错了，想换成{food}",
            "帮我把订单里的{item}去掉",
            "我要改地址，搬到隔壁楼了",
            "可以改成到店自取吗",
            "备注写错了，想改一下",
            "预约单能改时间吗",
            "不小心下了两单，取消一单",
            "能不能修改订单的口味，改成不辣",
            "取消订单",
            "改地址",
            "我想改一下订单",
            "帮我取消刚才那单",
            "能换个送餐地址吗",
            "订单能加个{item}吗",
        ],
        "en": [
            "I want to cancel my order",
            "I put the wrong address, can I change it?",
            "can you update the phone number on my order?",
            "can I add a {item} to the order I just placed?",
            "I'd like to change the delivery time to 7pm",
            "can I still cancel before the restaurant starts cooking?",
            "I ordered the wrong thing, can I switch it to {food}?",
            "please remove the {item} from my order",
            "I need to change the delivery address to my office",
            "can I change it to pickup instead of delivery?",
            "I need to edit the note on my order",
            "can I reschedule my scheduled order?",
            "I accidentally placed the same order twice, please cancel one",
            "can I modify my order to make it not spicy?",
            "cancel my order",
            "change address",
            "I need to change my order",
            "please cancel the order I just made",
            "can I change where it's delivered?",
            "add a {item} to my order please",
        ],
    },
    "account": {
        "zh": [
            "我登录不上账号了",
            "收不到验证码",
            "手机号换了，怎么修改绑定的手机号",
            "账号被封了，为什么",
            "忘记密码了怎么找回",
            "怎么注销账号",
            "我的账号好像被盗了，有陌生订单",
            "账户被冻结了",
            "怎么换绑微信",
            "登录一直提示账号异常",
            "想改一下账号的昵称和头像",
            "一个手机号能注册两个账号吗",
            "会员身份显示不出来了，账号有问题",
            "实名认证一直不通过",
            "登录不了",
            "验证码收不到",
            "改手机号",
            "密码忘了",
            "账号登不上去了",
            "账号被锁了怎么办",
        ],
        "en": [
            "I can't log in to my account",
            "I'm not getting the verification code",
            "I changed my phone number, how do I update it on my account?",
            "my account has been suspended, why?",
            "I forgot my password, how do I reset it?",
            "how do I delete my account?",
            "I think my account was hacked, there are orders I didn't make",
            "my account is locked",
            "how do I change the email address on my account?",
            "login keeps saying something went wrong with my account",
            "how can I change my profile name?",
            "can I have two accounts with one phone number?",
            "my membership isn't showing on my account anymore",
            "the identity verification keeps failing",
            "can't login",
            "no verification code",
            "reset my password",
            "my account got locked",
            "change my phone number",
            "I'm locked out of my account",
        ],
    },
    "coupons": {
        "zh": [
            "优惠券用不了",
            "满减没有减，结算金额不对",
            "红包怎么过期了，我都没用",
            "新人优惠券没收到",
            "下单时优惠券没法选",
            "会员红包怎么没有到账",
            "活动说满50减20，怎么没有优惠",
            "取消订单后优惠券没有退回",
            "我的折扣券不见了",
            "邀请好友的奖励红包没发",
            "为什么这个店不能用红包",
            "优惠码提示无效",
            "积分怎么兑换优惠券",
            "免配送费券没抵扣",
            "红包用不了",
            "优惠券怎么用不了",
            "满减没减",
            "券过期了",
            "优惠没有生效",
            "我的红包呢",
        ],
        "en": [
            "my coupon isn't working",
            "the discount wasn't applied at checkout",
            "my voucher expired before I could use it",
            "I never got the new user coupon",
            "I can't select my coupon when ordering",
            "the promo says 20% off but I paid full price",
            "my voucher wasn't returned after I cancelled",
            "my discount code says invalid",
            "where did my coupons go?",
            "I didn't get the referral credit for inviting a friend",
            "why can't I use a voucher at this restaurant?",
            "the free delivery coupon didn't apply",
            "how do I redeem my points for a coupon?",
            "the promo code from your email doesn't work",
            "coupon doesn't work",
            "voucher not applied",
            "promo code not working",
            "my coupon expired",
            "discount missing",
            "where is my voucher?",
        ],
    },
    "other": {
        "zh": [
            "怎么开发票",
            "我想给你们提个建议",
            "你们客服电话是多少",
            "APP一直闪退",
            "商家怎么入驻你们平台",
            "转人工",
            "你们几点下班",
            "怎么成为骑手",
            "这家店的菜有没有花生，我过敏",
            "我要投诉你们的客服",
            "怎么关闭消息推送",
            "能开公司抬头的发票吗",
            "你们支持配送到学校里面吗",
            "我想表扬一下这家店",
            "开发票",
            "人工客服",
            "我要提建议",
            "APP打不开",
            "怎么联系商家",
            "你们电话多少",
        ],
        "en": [
            "how do I get an invoice?",
            "I have a suggestion for your app",
            "what is your customer service phone number?",
            "the app keeps crashing",
            "how can my restaurant join your platform?",
            "I want to talk to a human",
            "what are your opening hours?",
            "how do I sign up to become a courier?",
            "does this dish contain peanuts? I'm allergic",
            "I want to complain about your customer service",
            "how do I turn off notifications?",
            "can I get a VAT receipt for my company?",
            "do you deliver to university dorms?",
            "I just want to say the restaurant did a great job",
            "invoice please",
            "talk to an agent",
            "I have some feedback",
            "the app won't open",
            "how do I contact the restaurant?",
            "what's your phone number?",
        ],
    },
}


def _compose(rng: random.Random, language: str, core: str) -> str:
    # Fill the slots, then wrap the sentence in a greeting and a closing.
    text = core.format(**{k: rng.choice(v) for k, v in SLOTS[language].items()})
    opener = rng.choice(OPENERS[language])
    closer = rng.choice(CLOSERS[language])
    if language == "zh":
        return opener + text + ("，" + closer if closer else "")
    if closer and text[-1] not in ".?!":
        text += "."
    if opener:
        return opener + text + closer
    text = text[0].upper() + text[1:] if rng.random() < 0.6 else text
    return text + closer


def _messages(rng: random.Random, language: str, cores: list[str]) -> list[str]:
    # Use every core once, then draw more until the quota is met; no duplicates.
    seen: dict[str, None] = {}
    order = list(cores)
    attempts = 0
    while len(seen) < PER_CLASS_AND_LANGUAGE and attempts < 5000:
        core = order[attempts] if attempts < len(order) else rng.choice(cores)
        seen.setdefault(_compose(rng, language, core), None)
        attempts += 1
    return list(seen)


def main() -> None:
    """Write issue_types.csv next to this script."""
    rng = random.Random(SEED)
    rows = [
        (text, label)
        for label, by_language in CORES.items()
        for language, cores in by_language.items()
        for text in _messages(rng, language, cores)
    ]
    rng.shuffle(rows)
    out = Path(__file__).with_name("issue_types.csv")
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
